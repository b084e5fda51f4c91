"""The organiser's controls: kill switch, enable/disable a team, force a fold. Every action
is logged (and kept in data/control/admin.jsonl). Bodies are read only once the
organiser's key has passed (deps.organiser_body)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from app.engine.controls import KillMode
from app.ledger.fold import fold_all
from app.ledger.jsonl import JsonlAppender
from app.runtime.controls import release_kill_switch, set_team_enabled, throw_kill_switch
from app.web.deps import Organiser, Service, json_body_doc, organiser_body

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class KillSwitchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    mode: Literal["block", "cancel", "flatten"]
    confirm: bool = False


class FoldBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    day: date


def _record(service: Service, action: str, **detail: object) -> None:
    log.warning("admin: %s %s", action, detail)
    with JsonlAppender(service.data_dir / "control" / "admin.jsonl") as journal:
        journal.append({"timestamp": datetime.now(UTC), "action": action, **detail})


@router.post("/kill-switch", openapi_extra=json_body_doc(KillSwitchBody))
def kill_switch(
    service: Service, body: Annotated[KillSwitchBody, Depends(organiser_body(KillSwitchBody))]
):
    """Halt trading at the engine's next tick; flatten needs `"confirm": true`."""
    if body.mode == "flatten" and not body.confirm:
        raise HTTPException(409, "flatten closes every team's positions: send confirm=true")
    switch = throw_kill_switch(service.data_dir, KillMode(body.mode), by="api")
    _record(service, "kill-switch", mode=body.mode)
    return {"mode": switch.mode.value, "since": switch.since.isoformat()}


@router.delete("/kill-switch")
def release(_who: Organiser, service: Service):
    released = release_kill_switch(service.data_dir, by="api")
    _record(service, "kill-switch-off", released=released)
    return {"released": released}


@router.post("/teams/{team_id}/{action}")
def team_switch(
    team_id: str, action: Literal["enable", "disable"], _who: Organiser, service: Service
):
    if team_id not in service.teams():
        raise HTTPException(404, f"no team {team_id!r}")
    set_team_enabled(service.data_dir, team_id, action == "enable", by="api")
    _record(service, action, team_id=team_id)
    return {"team_id": team_id, "enabled": action == "enable"}


@router.post("/fold", openapi_extra=json_body_doc(FoldBody))
def fold(service: Service, body: Annotated[FoldBody, Depends(organiser_body(FoldBody))]):
    """Fold a day's portfolio snapshots into Parquet now (the engine does it at day end)."""
    folded = fold_all(service.data_dir, body.day)
    _record(service, "fold", day=body.day.isoformat())
    return {"day": body.day.isoformat(), "owners": len(folded) if folded else 0}
