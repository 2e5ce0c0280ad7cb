"""Refuse NUL and other control characters at the HTTP boundary, before any route or database.

A NUL in a path (``/.well-known/jwt-vc-issuer/%00``) made PostgreSQL raise (a 500 with a
traceback), and a ``\\u0000`` inside JSON text was stored on both engines, or signed into a
credential. No field of this platform's APIs carries control characters, so they are refused
where requests enter, with one rule for every route, documented or not:

1. the path (percent-decoded) and the query string (percent-decoded): no C0 control character
   (U+0000–U+001F) and no DEL (U+007F);
2. JSON and form bodies: no C0 control character other than TAB, LF and CR (which free text may
   hold) and no DEL, in any string, key or value — raw or escaped (``\\u0000``).

Multipart bodies (uploaded documents) are binary and left alone. The answer is a 400
``malformed`` problem (RFC 9457). A body is scanned with one regular expression; only a body
that shows a candidate is decoded to tell an escaped control character from, say, an escaped
backslash followed by ``u0000``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicstack.api.problems import problem

__all__ = ["ControlCharacters", "text_has_control"]

_URL_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: A raw control byte, or an escape that may decode to one: ``\u0000``-``\u001f``, ``\u007f`` in
#: JSON; ``%00``-``%1F``, ``%7F`` in a form.
_JSON_CANDIDATE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\\u00[01][0-9a-fA-F]|\\u007[fF]")
_FORM_CANDIDATE = re.compile(rb"[\x00-\x1f\x7f]|%[01][0-9a-fA-F]|%7[fF]")


def text_has_control(value: str) -> bool:
    """Whether ``value`` holds a control character that no text field may hold."""
    return _TEXT_CONTROL.search(value) is not None


def _json_has_control(value: Any) -> bool:
    if isinstance(value, str):
        return text_has_control(value)
    if isinstance(value, dict):
        return any(text_has_control(k) or _json_has_control(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_json_has_control(item) for item in value)
    return False


def _body_has_control(content_type: str, body: bytes) -> bool:
    if "json" in content_type:
        if _JSON_CANDIDATE.search(body) is None:
            return False
        try:
            return _json_has_control(json.loads(body))
        except (ValueError, RecursionError):
            # Not JSON (the route will say so), or raw control bytes, which no JSON text holds
            # and which strict parsers refuse anyway: refuse here, before any other parser.
            return _TEXT_CONTROL.search(body.decode("latin-1")) is not None
    if _FORM_CANDIDATE.search(body) is None:
        return False
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return any(text_has_control(k) or text_has_control(v) for k, v in pairs)


def _checked_body_type(scope: Scope) -> str | None:
    """The content type when the body is text this guard reads (JSON or a form), else None."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: str = value.decode("latin-1").lower()
            if "json" in kind or "application/x-www-form-urlencoded" in kind:
                return kind
            return None
    return None


class ControlCharacters:
    """ASGI middleware applying the module's rules; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # 1. the path and the query string
        path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        query = scope.get("query_string", b"")
        if _URL_CONTROL.search(unquote_to_bytes(path)) or _URL_CONTROL.search(
            unquote_to_bytes(query.replace(b"+", b" "))
        ):
            detail = "control characters are not allowed in the path or query"
            await problem("malformed", detail)(scope, receive, send)
            return
        content_type = _checked_body_type(scope)
        if content_type is None:
            await self.app(scope, receive, send)
            return
        # 2. a JSON or form body (already capped in size by BodySizeLimit, outside this one)
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _body_has_control(content_type, body):
            detail = "control characters (NUL, ...) are not allowed in text fields"
            await problem("malformed", detail)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
