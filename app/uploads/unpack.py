"""Unpack an uploaded strategy (one `.py` or a `.zip` package) without trusting it; and
read one from disk the same way (`arena strategy check|test`).

Nothing is written to disk here: a zip is read in memory, member by member, with every
limit checked before and while reading (a member's declared size is not trusted, so a
zip bomb stops at the limit). Every problem is collected, so a team learns all of them
from one upload.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app.strategies.sources import StrategySourceError, read_strategy_files

MAX_UPLOAD_BYTES = 1 << 20  # the upload itself
MAX_FILES = 50
MAX_FILE_BYTES = 512 * 1024  # one unpacked file
MAX_TOTAL_BYTES = 4 << 20  # everything unpacked
MAX_RATIO = 50  # unpacked / compressed, per member: beyond is a bomb, not source code
SOURCE_SUFFIX = ".py"
DATA_SUFFIXES = frozenset({".json", ".csv", ".txt"})
MAX_DATA_BYTES = 256 * 1024
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")


class UploadRejectedError(ValueError):
    """The upload cannot become a strategy version; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Unpacked:
    sources: dict[str, str] = field(default_factory=dict)  # relative path -> Python text
    data: dict[str, bytes] = field(default_factory=dict)  # small data files, kept as bytes


def unpack_upload(filename: str, payload: bytes) -> Unpacked:
    """The files of an upload, or UploadRejectedError with every problem found."""
    if len(payload) > MAX_UPLOAD_BYTES:
        raise UploadRejectedError(
            [f"the upload is {len(payload):,} bytes; at most {MAX_UPLOAD_BYTES:,}"]
        )
    name = PurePosixPath(filename or "").name
    if name.endswith(".zip"):
        return _unpack_zip(payload)
    if name.endswith(SOURCE_SUFFIX):
        problems: list[str] = []
        unpacked = Unpacked()
        _add_source(unpacked, _checked_name(name, problems) or name, payload, problems)
        if problems:
            raise UploadRejectedError(problems)
        return unpacked
    raise UploadRejectedError([f"{name or 'the upload'}: upload a .py file or a .zip package"])


def _unpack_zip(payload: bytes) -> Unpacked:
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadRejectedError([f"not a valid zip file: {error}"]) from None
    problems: list[str] = []
    files = [m for m in members if not m.is_dir()]
    if len(files) > MAX_FILES:
        raise UploadRejectedError([f"{len(files)} files in the zip; at most {MAX_FILES}"])
    prefix = _common_folder([m.filename for m in files])
    unpacked, total = Unpacked(), 0
    for member in files:
        path = _member_path(member, prefix, problems)
        if path is None:
            continue
        content = _read_member(archive, member, problems)
        if content is None:
            continue
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            problems.append(f"more than {MAX_TOTAL_BYTES:,} bytes unpacked")
            break
        suffix = PurePosixPath(path).suffix
        if suffix == SOURCE_SUFFIX:
            _add_source(unpacked, path, content, problems)
        elif suffix in DATA_SUFFIXES and len(content) <= MAX_DATA_BYTES:
            unpacked.data[path] = content
        elif suffix in DATA_SUFFIXES:
            problems.append(f"{path}: data files may be at most {MAX_DATA_BYTES:,} bytes")
        else:
            allowed = ", ".join(sorted({SOURCE_SUFFIX, *DATA_SUFFIXES}))
            problems.append(f"{path}: file type not allowed (allowed: {allowed})")
    if not unpacked.sources and not problems:
        problems.append("the zip holds no .py file")
    if problems:
        raise UploadRejectedError(problems)
    return unpacked


def _common_folder(names: list[str]) -> str:
    """`mystrategy/` when every member sits in that one folder (a zipped directory)."""
    firsts = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(firsts) == 1 and all("/" in n for n in names):
        return next(iter(firsts)) + "/"
    return ""


def _member_path(member: zipfile.ZipInfo, prefix: str, problems: list[str]) -> str | None:
    raw = member.filename
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        problems.append(f"{raw}: links are not allowed")
        return None
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or "\\" in raw:
        problems.append(f"{raw}: absolute paths are not allowed")
        return None
    parts = raw.split("/")
    if ".." in parts:
        problems.append(f"{raw}: '..' is not allowed in a path")
        return None
    relative = raw[len(prefix) :] if prefix and raw.startswith(prefix) else raw
    if not all(_PART.match(p) for p in relative.split("/")) or relative.count("/") > 3:
        problems.append(f"{raw}: names may use letters, digits, _ . - (at most 4 levels)")
        return None
    return relative


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, problems: list[str]):
    if member.file_size > MAX_FILE_BYTES:
        problems.append(
            f"{member.filename}: {member.file_size:,} bytes; at most {MAX_FILE_BYTES:,}"
        )
        return None
    if member.compress_size and member.file_size / member.compress_size > MAX_RATIO:
        problems.append(f"{member.filename}: compression ratio over {MAX_RATIO} (a zip bomb?)")
        return None
    try:
        with archive.open(member) as handle:
            content = handle.read(MAX_FILE_BYTES + 1)  # the header's size is not trusted
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
        problems.append(f"{member.filename}: cannot be read ({error})")
        return None
    if len(content) > MAX_FILE_BYTES:
        problems.append(f"{member.filename}: more than {MAX_FILE_BYTES:,} bytes unpacked")
        return None
    return content


def _checked_name(name: str, problems: list[str]) -> str | None:
    if not _PART.match(name):
        problems.append(f"{name}: names may use letters, digits, _ . -")
        return None
    return name


def _add_source(unpacked: Unpacked, path: str, content: bytes, problems: list[str]) -> None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text (binary content is not a strategy)")
        return
    if "\x00" in text:
        problems.append(f"{path}: contains NUL bytes (binary content is not a strategy)")
        return
    unpacked.sources[path] = text


def read_strategy_path(path: Path) -> Unpacked:
    """A strategy on disk, taken as the upload takes it: a `.py` file or a `.zip` package by
    the upload's own rules and limits, a directory as the `.py` files under it (what
    zipping it would upload). Every refusal is a StrategySourceError naming `path`."""
    if path.is_dir():
        return Unpacked(sources=read_strategy_files(path))
    if not path.is_file():
        raise StrategySourceError(f"{path}: no such file or directory")
    try:
        return unpack_upload(path.name, path.read_bytes())
    except UploadRejectedError as rejected:
        reasons = "\n".join(f"  {problem}" for problem in rejected.problems)
        raise StrategySourceError(f"{path}: the upload refuses it:\n{reasons}") from None
