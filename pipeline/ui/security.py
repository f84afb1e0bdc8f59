"""The UI's guard: every request proves it comes from the person who started ``--ui``.

Jupyter's model, for a server on 127.0.0.1 that any page in the browser could talk to:

- **Host**: only ``127.0.0.1``, ``localhost`` or ``[::1]`` (a DNS-rebinding page reaches
  this port under its own name and is refused).
- **Token**: a random token, printed in the URL ``--ui`` shows, is needed for every
  request: as ``?token=`` (the first visit; it becomes an HttpOnly, SameSite=Strict cookie
  and the browser is sent on without it in the address), as that cookie, or as an
  ``Authorization: token ...`` header (scripts).
- **Origin**: a request that names another origin is refused; a state-changing request
  must name ours (or, from a script that sends no Origin, carry the CSRF header).
- **CSRF**: a state-changing request carries ``X-Moonpipe-Csrf`` (or a ``csrf`` form
  field) equal to a value derived from the token, which only our own pages hold.

Every response carries a Content-Security-Policy allowing nothing but this server (no
inline script, no external request), and is never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "moonpipe_ui"
CSRF_HEADER = "x-moonpipe-csrf"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def new_token() -> str:
    """A fresh random token (256 bits)."""
    return secrets.token_urlsafe(32)


def csrf_of(token: str) -> str:
    """The CSRF value our pages carry: derived from the token, useless without it."""
    return hmac.new(token.encode(), b"moonpipe-ui-csrf", hashlib.sha256).hexdigest()


class Guard:
    """ASGI middleware applying the module docstring's rules before the app sees a request."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app, self.token, self.port = app, token, port
        self.csrf = csrf_of(token)
        self.cookie = f"{COOKIE}_{port}"  # one per server: two UIs on two ports coexist
        self.origins = {f"http://{h}:{port}" for h in LOCAL_HOSTS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope["method"], headers, scope.get("query_string", b""))
        if refusal is not None:
            await _plain(send, *refusal)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if query.get("token") and scope["method"] in SAFE_METHODS:
            await self._into_cookie(scope, send, query)
            return
        await self.app(scope, receive, _with_headers(send))

    def refusal(self, method: str, headers: dict[str, str], query: bytes) -> tuple[int, str] | None:
        """(status, reason) when the request must be refused, else None."""
        if not _local_host(headers.get("host", ""), self.port):
            return 403, "refused: this server answers only to 127.0.0.1 or localhost (Host)"
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return 403, f"refused: requests from {origin} are not allowed (Origin)"
        if not self._has_token(headers, query):
            return 403, (
                "refused: no valid token; open the URL that `run_pipeline.py --ui` printed "
                "(it ends with ?token=...)"
            )
        if method in SAFE_METHODS:
            return None
        if origin is None and headers.get("sec-fetch-site") not in (None, "same-origin"):
            return 403, "refused: a cross-site request may not change anything (Origin)"
        if not hmac.compare_digest(headers.get(CSRF_HEADER, ""), self.csrf):
            return 403, "refused: the CSRF check failed (reload the page and try again)"
        return None

    def _has_token(self, headers: dict[str, str], query: bytes) -> bool:
        given = dict(parse_qsl(query.decode("latin-1"))).get("token")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("token "):
            given = given or auth[6:].strip()
        if not given and "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(headers["cookie"])
            except Exception:  # a malformed cookie header is no token
                return False
            given = jar[self.cookie].value if self.cookie in jar else None
        return bool(given) and hmac.compare_digest(str(given), self.token)

    async def _into_cookie(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        """The first visit: keep the token in a cookie and send the browser on without it."""
        rest = {k: v for k, v in query.items() if k != "token"}
        location = scope.get("path", "/") + (f"?{urlencode(rest)}" if rest else "")
        cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"set-cookie", cookie.encode("latin-1")),
                    *_security_headers(),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _local_host(host: str, port: int) -> bool:
    """True for 127.0.0.1, localhost or [::1], with no port or this server's."""
    name, _, given_port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name:  # no port given
        name, given_port = host, ""
    return name.lower() in LOCAL_HOSTS and given_port in ("", str(port))


def _security_headers() -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in HEADERS.items()]


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *_security_headers()]
        await send(message)

    return sending


async def _plain(send: Send, status: int, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *_security_headers()],
        }
    )
    await send({"type": "http.response.body", "body": text.encode("utf-8")})
