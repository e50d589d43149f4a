"""Refuse request bodies over a size limit before they are buffered.

The declared ``Content-Length`` is checked before a byte of the body is read; a body
sent without one (chunked) is counted while it streams in, and reading stops at the
first chunk past the limit. Either way the client gets a JSON 413 and the server never
holds more than the limit (plus one network read) of it.

Starlette has a limiter too (``FastAPI(max_body_size=...)``), but it answers an oversized
``Content-Length`` with ``text/plain``, replacing whatever the app sends; this API
promises ``{"detail": ...}`` for every error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                # uvicorn refuses a malformed Content-Length itself.
                if value.isdigit() and int(value) > limit:
                    error = BodyTooLarge(limit)
                    await JSONResponse({"detail": error.detail}, 413)(scope, receive, send)
                    return
                break
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: the app's handler turns it into a JSON 413.
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, receive_within_limit, send)
