"""The web fixtures the `arena serve` tests share with tests/web."""

from tests.web.conftest import arena_dir

__all__ = ["arena_dir"]
