"""The organiser CLI, one module per command group (`arena --help` lists them)."""

from app.cli.main import main

__all__ = ["main"]
