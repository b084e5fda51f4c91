"""Request bodies: read only after the caller's key has passed, never past a cap, in memory.

FastAPI reads a route's body parameters before it solves the route's dependencies (and
spools a multipart file over 1 MiB to a temporary file), so a route with a body parameter
reads a stranger's gigabytes before its key dependency can answer 401. The routes that
take a body here declare none: their key dependency runs first, then they read the body
with `read_capped` (refused from its Content-Length, or as soon as the stream passes the
cap) and parse it in memory: JSON with pydantic, multipart forms with python-multipart's
parser (the one Starlette's form parsing uses), never a file.

`CloseUnreadBodies` closes the connection after a response sent before the body was read
(a refusal): uvicorn would otherwise read and discard the rest of the body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_FORM_PARTS = 16  # the upload form has two fields; a few more are ignored, not hundreds


class FormError(ValueError):
    """The body is not the multipart form the route documents."""


@dataclass
class FormPart:
    """One field of a multipart form: its bytes, and the file name if it is a file."""

    data: bytearray
    filename: str | None = None


async def read_capped(request: Request, cap: int, detail: Any) -> bytes:
    """The whole body, or 413 with `detail`: from its Content-Length before anything is
    read, else as soon as the bytes streamed pass `cap`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:  # uvicorn refuses a malformed one itself
        raise HTTPException(413, detail)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise HTTPException(413, detail)
    return bytes(body)


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The fields of a multipart/form-data body by name; FormError if it is not one."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FormError("send a multipart/form-data body (an HTML form with a file field)")
    parts = _Parts()
    try:
        MultipartParser(boundary, parts.callbacks()).write(body)
    except FormParserError as error:
        raise FormError(f"the multipart body cannot be read: {error}") from None
    if not parts.ended:
        raise FormError("the multipart body ends before its closing boundary")
    return parts.fields


class _Parts:
    """Collects the parser's callbacks into fields, in memory (the body is capped)."""

    def __init__(self) -> None:
        self.fields: dict[str, FormPart] = {}
        self.ended = False
        self._header = [bytearray(), bytearray()]  # the name and value being read
        self._disposition = b""
        self._current = FormPart(bytearray())

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._header[0].extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header[1].extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda data, start, end: self._current.data.extend(data[start:end]),
            "on_end": self._end,
        }

    def _begin(self) -> None:
        if len(self.fields) >= MAX_FORM_PARTS:
            raise FormError(f"more than {MAX_FORM_PARTS} fields in the form")
        self._disposition = b""
        self._current = FormPart(bytearray())

    def _header_end(self) -> None:
        name, value = self._header
        if bytes(name).lower() == b"content-disposition":
            self._disposition = bytes(value)
        self._header = [bytearray(), bytearray()]

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise FormError("a part of the form has no name (Content-Disposition: form-data)")
        name = options[b"name"].decode("utf-8", "replace")
        if name in self.fields:
            raise FormError(f"the field {name!r} is in the form twice")
        if b"filename" in options:
            self._current.filename = options[b"filename"].decode("utf-8", "replace")
        self.fields[name] = self._current

    def _end(self) -> None:
        self.ended = True


class CloseUnreadBodies:
    """Adds `Connection: close` to a response started before the request's body was read
    to its end, so the server stops reading it (RFC 9112, 9.6)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        read = False

        async def receive_and_note() -> Message:
            nonlocal read
            message = await receive()
            read = read or not message.get("more_body", False)
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not read:
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive_and_note, send_closing)


def _has_body(scope: Scope) -> bool:
    headers = Headers(scope=scope)
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
