"""Text the database cannot hold is refused once, at the edge, before any route sees it.

PostgreSQL rejects NUL (``\\x00``) in text, and no store can encode a lone UTF-16 surrogate
(``"\\ud800"`` in JSON) as UTF-8: both used to surface as 500s deep in a query or an event append.
:class:`TextGuardMiddleware` checks the path (404, as for any path that names nothing), the query
string, every header and the JSON or form body (422 naming where, never echoing what), on every
store alike.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dispatch import FrameworkShortcut

log = logging.getLogger(__name__)

# Where the body is left (``request.state``) for the routes (the parsed JSON, read once) and the
# error handlers (a message is checked for echoing the body's strings without reading it twice).
SUBMITTED_JSON = "submitted_json"
SUBMITTED_TEXT = "submitted_text"
NUL = "string_nul"
SURROGATE = "string_surrogate"
MESSAGES = {
    NUL: "contains a NUL character, which is not allowed in text",
    SURROGATE: "contains an unpaired UTF-16 surrogate, which is not valid Unicode text",
}


def text_problem(text: str) -> str | None:
    """``NUL`` or ``SURROGATE`` when ``text`` cannot be stored as text, else None."""
    if "\x00" in text:
        return NUL
    if text.isascii():  # a flag of the string: most text needs no encoding to be checked
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def json_problems(document: Any, root: tuple[str | int, ...] = ("body",)) -> list[dict[str, Any]]:
    """Every key or string in a parsed JSON document that cannot be stored, as 422 entries."""
    problems: list[dict[str, Any]] = []
    pending: list[tuple[tuple[str | int, ...], Any]] = [(root, document)]
    while pending:  # iterative: a deeply nested body must not exhaust the stack here
        loc, value = pending.pop()
        if isinstance(value, str):
            _check(problems, loc, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if _check(problems, loc, key):
                    continue
                pending.append(((*loc, key), item))
        elif isinstance(value, list):
            pending.extend(((*loc, index), item) for index, item in enumerate(value))
    return problems


def _check(problems: list[dict[str, Any]], loc: tuple[str | int, ...], text: str) -> bool:
    kind = text_problem(text)
    if kind is not None:
        problems.append({"loc": list(loc), "msg": MESSAGES[kind], "type": kind})
    return kind is not None


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KiB")


class TextGuardMiddleware:
    """Refuses request bodies over ``limit`` bytes (413: up front when Content-Length says so,
    else as soon as the streamed body passes it), then NUL bytes and lone surrogates in the path
    (404) and anywhere else (422).

    One layer for both, because both read the body: it is read once, parsed once (the parsed JSON
    is left in ``scope["state"]`` for the route, see ``api.fast_route``) and replayed. Being the
    app's innermost middleware, it hands the hot routes' requests to the route's app itself, past
    FastAPI's two innermost layers and the router (``api.dispatch.FrameworkShortcut``)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        # The innermost of the app's middleware: the hot routes go from here to the route's app.
        self.shortcut = FrameworkShortcut.below(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = content_type = None
        nul_in_headers = False
        for name, value in scope["headers"]:  # one pass for everything read from the headers
            # ``0 in``, not ``b"\x00" in``: the byte's value is found without bytes first
            # trying (and failing, an exception each time) to read the operand as an int.
            if 0 in value or 0 in name:
                nul_in_headers = True
            if name == b"content-length":
                if declared is None:  # the first one, as Starlette's Headers.get gives it
                    declared = bytes(value).decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = bytes(value).decode("latin-1")
        if declared is not None:
            if not declared.isdigit():
                await JSONResponse({"detail": "invalid Content-Length"}, 400)(scope, receive, send)
                return
            if int(declared) > self.limit:
                error = BodyTooLarge(self.limit)
                await JSONResponse({"detail": error.detail}, 413)(scope, receive, send)
                return
        if text_problem(scope["path"]) is not None:
            # A plain response never calls receive: no limit to apply to it.
            await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)
            return
        problems = _query_problems(scope) if scope.get("query_string") else []
        if nul_in_headers:
            problems.extend(_header_problems(scope))
        body = b""
        reads_body = scope.get("method") in ("POST", "PUT", "PATCH")
        if not problems and reads_body:
            try:
                body = await _read(receive, self.limit)
            except HTTPException as error:  # the body limit, as limited() raises it
                await JSONResponse({"detail": error.detail}, error.status_code)(
                    scope, receive, send
                )
                return
            problems = _body_problems(content_type or "", body, scope.setdefault("state", {}))
        if problems:
            log.info("refused text the database cannot store", extra={"where": _where(problems)})
            await JSONResponse({"detail": problems}, 422)(scope, receive, send)
            return
        admitted = _replay(body, receive) if reads_body else self._limited(receive)
        if self.shortcut is not None:
            route = self.shortcut.route_for(scope)
            if route is not None:
                await route.app(scope, admitted, send)
                return
        await self.app(scope, admitted, send)

    def _limited(self, receive: Receive) -> Receive:
        limit = self.limit
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited_receive


def _query_problems(scope: Scope) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    raw = scope.get("query_string", b"")
    query = bytes(raw).decode("latin-1") if raw else ""
    for name, value in parse_qsl(query, keep_blank_values=True) if query else ():
        if text_problem(name) is not None:
            problems.append({"loc": ["query"], "msg": MESSAGES[NUL], "type": NUL})
        else:
            _check(problems, ("query", name), value)
    return problems


def _header_problems(scope: Scope) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for raw_name, raw_value in scope["headers"]:
        if 0 in raw_name or 0 in raw_value:
            name = bytes(raw_name).decode("latin-1").replace("\x00", "")
            problems.append({"loc": ["header", name], "msg": MESSAGES[NUL], "type": NUL})
    return problems


def _body_problems(content_type: str, body: bytes, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems of a JSON or form body (other bodies are the route's business); leaves the
    parsed JSON document (``SUBMITTED_JSON``) or the form's values (``SUBMITTED_TEXT``) in
    ``state``."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json") or media.endswith("+json"):
        if not body:
            return []
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return []  # not JSON at all: the route's own validation answers 422
        state[SUBMITTED_JSON] = document
        if _plain_json(body):
            return []  # what json_problems finds in it, without walking it
        return json_problems(document)
    if media == "application/x-www-form-urlencoded":
        problems: list[dict[str, Any]] = []
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        for name, value in pairs:
            _check(problems, ("body", name.replace("\x00", "")), name + value)
        state[SUBMITTED_TEXT] = [value for _, value in pairs]
        return problems
    return []


def _plain_json(body: bytes) -> bool:
    """True when no key or string of the JSON ``body`` can hold NUL or a lone surrogate, told from
    its bytes by C-level checks instead of a walk of the parsed document (most bodies).

    ASCII bytes without a zero byte are decoded as UTF-8 by ``json.loads`` (its encoding detection
    looks only at zero bytes, and BOMs, which are not ASCII), so every character of the text is
    ASCII and none is NUL. Inside a string, strict ``json`` refuses raw control characters, so a
    character is there as itself (printable ASCII) or from an escape, and without ``\\u`` the
    only escapes are ``\\" \\\\ \\/ \\b \\f \\n \\r \\t``: neither NUL nor a surrogate. A body
    with a ``\\u`` (even one inside an escaped backslash) or non-ASCII bytes is walked as before
    (``tests/api/test_text_guard.py`` checks the two agree). With ``_read`` counting the body
    itself: 1,182.0k -> 1,174.0k instructions per request in issue 17's flow
    (``benchmarks/bench_asgi.py --callgrind``)."""
    return body.isascii() and 0 not in body and b"\\u" not in body


def submitted_strings(state: dict[str, Any]) -> list[str]:
    """Every string of the request's JSON or form body (for the error handlers), worked out only
    when an error needs them."""
    if SUBMITTED_JSON in state:
        return _strings(state[SUBMITTED_JSON])
    return list(state.get(SUBMITTED_TEXT, ()))


def _strings(document: Any) -> list[str]:
    found: list[str] = []
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found


def _where(problems: list[dict[str, Any]]) -> str:
    return ", ".join(".".join(str(part) for part in p["loc"]) for p in problems[:5])


async def _read(receive: Receive, limit: int) -> bytes:
    """The request's body, read as ``_limited`` reads it (``BodyTooLarge`` once more than
    ``limit`` bytes came), counting here: no wrapped ``receive`` to await per message."""
    message = await receive()
    if message["type"] != "http.request":
        return b""
    body = message.get("body", b"")
    received = len(body)
    if received > limit:
        raise BodyTooLarge(limit)
    if not message.get("more_body") and type(body) is bytes:
        return body  # the usual one message: what joining it alone gives
    chunks: list[bytes] = [body]
    if not message.get("more_body"):
        return b"".join(chunks)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body = message.get("body", b"")
        received += len(body)
        if received > limit:
            raise BodyTooLarge(limit)
        chunks.append(body)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, for streaming responses

    return replay
