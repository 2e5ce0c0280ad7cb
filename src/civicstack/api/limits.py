"""Request size caps, enforced before a body reaches a route (hostile input is the default)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicstack.api.problems import problem

DEFAULT_MAX_BODY = 1024 * 1024


class BodySizeLimit:
    """ASGI middleware: refuse bodies over ``max_body`` bytes with a 413 problem.

    A declared ``Content-Length`` over the cap is refused before reading; otherwise the body is
    read (chunked uploads included) and counted up to the cap, then replayed to the app, so a
    route never sees a partial or oversize body.
    """

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem("too_large", f"bodies are limited to {self.max_body} bytes")
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                await self._refuse(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class QueryStringLimit:
    """ASGI middleware: refuse a query string over ``max_bytes`` with a 414 problem."""

    def __init__(self, app: ASGIApp, max_bytes: int = 4096) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.max_bytes:
            detail = f"query strings are limited to {self.max_bytes} bytes"
            await problem("too_large", detail, status=414)(scope, receive, send)
            return
        await self.app(scope, receive, send)
