"""A team's traceback as the team may see it: its own frames only, bounded, no host paths."""

from __future__ import annotations

import linecache
import sys
import traceback
from collections.abc import Mapping

TEAM_PREFIX = "<team>/"  # code objects' file names: `<team>/strategy.py`, never a host path


MAX_MESSAGE_CHARS = 2_000  # an exception's own message
MAX_FRAMES = 40  # frames kept after collapsing repeats (deep recursion repeats one frame)


def format_team_traceback(exc: BaseException, files: Mapping[str, str]) -> str:
    """`Type: message` and the frames in the team's own files, never host frames or paths.

    Bounded: the message is cut, runs of the same frame are collapsed into one line with
    a count, and only the first and last frames of a long stack are kept.
    """
    names = {TEAM_PREFIX + name: name for name in files}
    message = scrub(str(exc))
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + f"... [{len(message):,} characters]"
    frames: list[list] = []  # [line, repeats]
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename in names:  # only team files hit linecache: no file reads
            source = linecache.getline(filename, lineno).strip()[:200]
            line = f"  {names[filename]}:{lineno} in {frame.f_code.co_name}: {source}"
            if frames and frames[-1][0] == line:
                frames[-1][1] += 1
            else:
                frames.append([line, 1])
    rendered = [f"{line} [repeated {n} times]" if n > 1 else line for line, n in frames]
    if len(rendered) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        skipped = len(rendered) - MAX_FRAMES
        rendered = [*rendered[:half], f"  ... {skipped} more frames ...", *rendered[-half:]]
    return "\n".join([f"{type(exc).__name__}: {message}", *rendered])


# The installation's and the project's folders (sandbox/worker/tracebacks.py: three up).
_HOST_DIRS = sorted(
    {sys.prefix, sys.base_prefix, sys.exec_prefix, __file__.rsplit("/", 3)[0]},
    key=len,
    reverse=True,
)


def scrub(message: str) -> str:
    """Remove the host's installation paths from an exception message."""
    for directory in _HOST_DIRS:
        message = message.replace(directory, "...")
    return message
