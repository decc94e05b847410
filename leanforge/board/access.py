"""Who may read the board: the Host header check on loopback and the token check off it.

Pure decisions over a request's headers. Bound to loopback, the board answers only a Host that
names this machine (a DNS-rebinding page cannot read it); bound elsewhere, it needs the token,
offered in the ``?token=`` query (the server then sets the :data:`COOKIE`), the cookie, or an
``Authorization: Bearer`` header, compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

COOKIE = "forge_board"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host(header: str) -> tuple[str, str] | None:
    """A Host header's name and port ("" when absent), or None when it is malformed. Pure."""
    value = header.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        if rest and not rest.startswith(":"):
            return None
        return name, rest[1:]
    if value.count(":") > 1:
        return value, ""  # a bare IPv6 address
    name, _, port = value.partition(":")
    return (name, port) if name else None


def host_allowed(bound: str, port: int, header: str | None) -> bool:
    """On loopback, the Host header must name this machine (DNS-rebinding defence)."""
    if not is_loopback(bound):
        return True
    parsed = split_host(header or "")
    if parsed is None:
        return False
    name, given_port = parsed
    if given_port and given_port != str(port):
        return False
    return name in LOOPBACK_NAMES or name == bound.lower()


def authorized(
    token: str | None, query_token: str | None, cookie: str | None, bearer: str | None
) -> bool:
    """Does the request offer ``token`` (any token will do when there is none)?"""
    if not token:
        return True
    expected = token.encode()
    return any(
        given is not None and hmac.compare_digest(given.encode(), expected)
        for given in (query_token, cookie, bearer)
    )


def credentials(
    target: str, cookie_header: str, authorization: str
) -> tuple[str | None, str | None, str | None]:
    """The token a request offers in its query, its cookie and its bearer header. Pure."""
    query = parse_qs(target.partition("?")[2])
    given = query.get("token", [None])[-1]
    cookie = None
    try:
        morsel = SimpleCookie(cookie_header).get(COOKIE)
        cookie = morsel.value if morsel is not None else None
    except CookieError:
        pass
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    return given, cookie, bearer
