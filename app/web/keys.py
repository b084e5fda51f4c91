"""API keys: one per team and one for the organiser, stored only as hashes.

A key is 32 random bytes (URL-safe text) with a readable prefix; only its SHA-256 is kept,
in `data/keys/keys.json` (mode 0600, written atomically). A presented key is hashed and
compared with every stored hash in constant time, so neither a wrong key's contents nor
whose key it resembles shows in the answer time. Keys are shown once, when issued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from app.ledger.small_files import ChangedFile, write_json_atomic

ORGANISER = "organiser"  # not a valid team id (reserved), so never confused with a team
KEYS_FILE = Path("keys") / "keys.json"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """The hashed keys of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / KEYS_FILE
        # Re-read when the file changed: keys rotate while the API serves.
        self._load = ChangedFile(self.path, _read_hashes, {})

    def owners(self) -> set[str]:
        return set(self._load())

    def issue(self, owner: str) -> str:
        """A new key for `owner` (a team id or ORGANISER), replacing any old one."""
        key = f"arena_{'org' if owner == ORGANISER else 'team'}_{secrets.token_urlsafe(32)}"
        body = self._read_body()
        body["keys"][owner] = {"sha256": _digest(key), "issued": datetime.now(UTC).isoformat()}
        self._write_body(body)
        return key

    def ensure(self, owners: Iterable[str]) -> dict[str, str]:
        """Keys for the owners that have none yet; {owner: key}, to be shown once."""
        have = self.owners()
        return {owner: self.issue(owner) for owner in owners if owner not in have}

    def who(self, key: str | None) -> str | None:
        """The owner of `key`, or None (compared with every stored hash in constant time)."""
        if not key:
            return None
        presented = _digest(key)
        found = None
        for owner, stored in self._load().items():
            if hmac.compare_digest(presented, stored):
                found = owner
        return found

    def _read_body(self) -> dict:
        if self.path.is_file():
            return json.loads(self.path.read_text())
        return {"keys": {}}

    def _write_body(self, body: dict) -> None:
        write_json_atomic(self.path, body, mode=0o600)


def _read_hashes(path: Path) -> dict[str, str]:
    body = json.loads(path.read_text())
    return {owner: entry["sha256"] for owner, entry in body["keys"].items()}
