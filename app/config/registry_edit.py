"""Changes to the organiser's registry file that keep it as they wrote it: comments, key
order, flow or block style and indentation survive (ruamel.yaml's round trip)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from app.config.registry import Registry, RegistryError, validate_registry


def with_team(path: Path, entry: dict[str, Any]) -> tuple[str, Registry]:
    """The registry's text with `entry` appended to its teams, and that registry checked
    by every rule (errors name `path` and the field); nothing is written."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    yaml = _round_trip(text)
    try:
        document = yaml.load(text) if text.strip() else None
    except YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {error}") from error
    document = CommentedMap() if document is None else document
    if not isinstance(document, dict):
        raise RegistryError(f"{path}: expected a mapping with a 'teams' list")
    teams = document.get("teams")
    if teams is None:
        teams = document["teams"] = CommentedSeq()
    if not isinstance(teams, list):
        raise RegistryError(f"{path}: teams: expected a list")
    if any(isinstance(t, dict) and t.get("team_id") == entry["team_id"] for t in teams):
        raise RegistryError(f"{path}: team {entry['team_id']!r} is already registered")
    teams.append(CommentedMap(entry))
    if isinstance(teams, CommentedSeq):
        teams.fa.set_block_style()  # `teams: []` grows into a block list
    registry = validate_registry(path, document)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue(), registry


def write_registry(path: Path, text: str) -> None:
    """Replace the registry atomically: a reader sees the old file or the new one."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        os.fchmod(handle, mode)  # mkstemp's 0600 would hide the file from the server's user
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _round_trip(text: str) -> YAML:
    """A round-trip loader and dumper indenting as the file already does."""
    yaml = YAML()
    yaml.width = 4096  # long lines stay on one line
    sequence, offset = 4, 2  # `  - team_id: ...`, as the shipped registry is written
    if text.strip():
        try:
            _, guessed, block_offset = load_yaml_guess_indent(text)
        except YAMLError:
            guessed, block_offset = None, None
        if guessed is not None and block_offset is not None:
            sequence, offset = guessed, block_offset
    yaml.indent(mapping=2, sequence=max(sequence, offset + 2), offset=offset)
    return yaml
