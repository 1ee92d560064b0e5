"""Who may use the web server, and proof that a change was asked for by our own page.

With ``web.token`` set, every route but ``/healthz`` (and the login form itself) needs the
token, in one of three ways:

- ``Authorization: Bearer TOKEN`` (scripts, the API);
- the session cookie the login form sets (``HttpOnly; SameSite=Strict``): its value is an
  HMAC of the token under a key made at start, so the cookie is not the token, and a restart
  signs everyone out;
- ``?token=`` on ``/feeds/`` URLs only, because a feed reader can send nothing else. The
  dashboard shows feed URLs with the *feed token* (an HMAC of the token, stable across
  restarts), which opens the feeds and nothing else, so the token itself is never in a page.

Every comparison is in constant time. A change (POST) also needs a CSRF token that only our
own pages carry (an HMAC of the session under the per-start key), unless the request carries
the bearer token, which a browser never adds by itself; a POST whose ``Origin`` names another
host is refused before anything else.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

SESSION_COOKIE = "newsmonitor_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
#: routes open without the token: liveness (the container's health check) and the login form
OPEN_PATHS = frozenset({"/healthz", "/login"})
FEEDS_PREFIX = "/feeds/"


class Credential(enum.Enum):
    """How a request proved who it is."""

    NONE = "none"
    #: no token is configured: everything is open (the server listens on loopback)
    OPEN = "open"
    BEARER = "bearer"
    COOKIE = "cookie"
    FEED = "feed"


#: how the request came in, for the handlers (a signed-in page shows "sign out")
CREDENTIAL = web.RequestKey("credential", Credential)


def _mac(key: bytes, what: str) -> str:
    return hmac.new(key, what.encode("utf-8"), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


@dataclass(frozen=True)
class WebAuth:
    """The token (None: no authentication) and the key made at start that signs sessions
    and CSRF tokens."""

    token: str | None = None
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def session(self) -> str:
        """The session cookie's value for this start of the server."""
        return _mac(self.key, f"session:{self.token or ''}")

    @property
    def feed_token(self) -> str:
        """The token feed URLs carry (opens ``/feeds/`` only; "" without authentication)."""
        if not self.token:
            return ""
        return _mac(self.token.encode("utf-8"), "newsmonitor feeds")[:40]

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the token (constant time; False without one)."""
        return bool(self.token) and _same(given, self.token or "")

    def credential(self, request: web.Request) -> Credential:
        """How ``request`` is authenticated (``NONE``: it is not)."""
        if not self.enabled:
            return Credential.OPEN
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(value.strip()):
            return Credential.BEARER
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie and _same(cookie, self.session):
            return Credential.COOKIE
        given = request.query.get("token", "")
        feed = request.path.startswith(FEEDS_PREFIX) and given
        if feed and (_same(given, self.feed_token) or self.token_matches(given)):
            return Credential.FEED
        return Credential.NONE

    def csrf_token(self, request: web.Request) -> str:
        """The CSRF token our pages put in their forms for ``request``'s session."""
        return _mac(self.key, f"csrf:{request.cookies.get(SESSION_COOKIE, '') if self.enabled else ''}")

    def csrf_ok(self, request: web.Request, given: str) -> bool:
        """Whether a change may go ahead: the request carries the bearer token, or ``given``
        is the CSRF token of its session."""
        if self.credential(request) is Credential.BEARER:
            return True
        return bool(given) and _same(given, self.csrf_token(request))


def foreign_origin(request: web.Request) -> bool:
    """Whether the request's ``Origin`` (or, without one, ``Referer``) names a host other
    than the one it was sent to: a cross-site form post."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return False
    if origin == "null":
        return True
    return urlsplit(origin).netloc.lower() != request.host.lower()


def safe_next(value: str | None) -> str:
    """Where to go after login: a path of ours, never another site (``//evil``, ``/\\evil``)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def auth_check(auth: WebAuth) -> Middleware:
    """The middleware that refuses (401) a request without a credential, and (403) a change
    from another origin; ``request[CREDENTIAL]`` tells the handlers how it came in."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD", "OPTIONS") and foreign_origin(request):
            raise web.HTTPForbidden(text="403 Forbidden: a change from another site's page")
        credential = auth.credential(request)
        request[CREDENTIAL] = credential
        if credential is Credential.NONE and request.path not in OPEN_PATHS:
            raise web.HTTPUnauthorized(
                text="401 Unauthorized: send the token (Authorization: Bearer), or sign in at /login",
                headers={"WWW-Authenticate": 'Bearer realm="newsmonitor"'},
            )
        if credential is Credential.FEED and not request.path.startswith(FEEDS_PREFIX):
            raise web.HTTPUnauthorized(text="401 Unauthorized")
        return await handler(request)

    return check
