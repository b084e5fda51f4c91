"""JSON answers encoded with orjson (Decimals as strings, as in the ledgers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot encode {type(value).__name__}")


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)
