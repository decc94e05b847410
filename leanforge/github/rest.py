"""A small GitHub REST client over the standard library, with GitHub's retry and rate-limit rules.

``GitHub`` is the boundary the Action codes against; ``RestClient`` is the real adapter and
``leanforge.github.fake_server.FakeGitHub`` serves the same endpoints locally for tests. How long
to wait after a failed request is decided by the pure ``retry_delay``; the client only sleeps.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from typing import IO, Any, Protocol
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit

from leanforge.errors import GitHubError

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = "leanforge"
#: GitHub asks for at least a minute before retrying a secondary rate limit that names no wait.
SECONDARY_WAIT = 60.0
MISSING_TOKEN = "no GitHub token: pass the github-token input to the action or set GITHUB_TOKEN"


class GitHub(Protocol):
    """The GitHub calls the Action makes; ``repo`` is always ``owner/name``."""

    def permission(self, repo: str, user: str) -> str: ...
    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]: ...
    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]: ...
    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]: ...
    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None: ...
    def remove_label(self, repo: str, number: int, label: str) -> None: ...
    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str
    ) -> dict[str, Any]: ...
    def find_pull(self, repo: str, *, head: str, base: str) -> dict[str, Any] | None: ...
    def update_pull(self, repo: str, number: int, *, body: str) -> dict[str, Any]: ...


def retry_delay(
    status: int | None,
    headers: Mapping[str, str],
    body: str,
    attempt: int,
    now: float,
    *,
    idempotent: bool = True,
) -> float | None:
    """Seconds to wait before retrying a failed request, or None if retrying cannot help.

    ``status`` is None when no response came (connection error, timeout); ``attempt`` counts
    the failures before this one; ``now`` is epoch seconds, to turn ``x-ratelimit-reset`` into
    a wait. The rules are GitHub's: ``retry-after`` first, then the primary limit's reset, then
    at least a minute (doubling) for a secondary limit; 5xx and lost connections back off 1, 2, 4...

    A request that creates something (``idempotent=False``) is retried only after a rate limit,
    which GitHub answers before doing anything: after a 5xx or a lost connection it may already
    have been applied, and a retry would make a second comment or pull request.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    if status in (403, 429):
        return _rate_limit_delay(status, lower, body, attempt, now)
    if status is None or status >= 500:
        return 2.0**attempt if idempotent else None
    return None


def _rate_limit_delay(
    status: int, headers: Mapping[str, str], body: str, attempt: int, now: float
) -> float | None:
    retry_after = _seconds(headers.get("retry-after"))
    if retry_after is not None:
        return max(retry_after, 0.0)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = _seconds(headers.get("x-ratelimit-reset"))
        if reset is not None:
            # One second past the reset: the reset second itself may still count against us.
            return max(reset - now, 0.0) + 1.0
        return SECONDARY_WAIT * 2.0**attempt
    # A 403 that is not a rate limit is a permission problem; waiting will not fix it.
    if status == 429 or "secondary rate limit" in body.lower():
        return SECONDARY_WAIT * 2.0**attempt
    return None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def next_link(link: str) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None on the last page."""
    for part in link.split(","):
        match = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if match and re.search(r'\brel="?next"?', match.group(2)):
            return match.group(1)
    return None


@dataclass(frozen=True)
class Response:
    """A successful reply: its status, lower-cased headers and parsed JSON (None if empty)."""

    status: int
    headers: dict[str, str]
    data: Any


class RestClient:
    """``GitHub`` over HTTPS with a token; retries rate limits, 5xx and lost connections."""

    def __init__(
        self,
        token: str,
        api_url: str = API_URL,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        max_retries: int = 5,
        max_wait: float = 900.0,
        timeout: float = 30.0,
    ) -> None:
        if not token.strip():
            raise GitHubError(MISSING_TOKEN)
        self._token = token.strip()
        self.api_url = api_url.rstrip("/")
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.timeout = timeout
        self._sleep = sleep
        self._now = now
        self._opener = urllib.request.build_opener(_SameOriginRedirects())

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RestClient:
        """A client from ``GITHUB_TOKEN`` and ``GITHUB_API_URL`` (GitHub Enterprise, tests)."""
        return cls(env.get("GITHUB_TOKEN", ""), env.get("GITHUB_API_URL", "").strip() or API_URL)

    def __repr__(self) -> str:
        return f"RestClient({self.api_url!r})"

    def permission(self, repo: str, user: str) -> str:
        path = f"/repos/{_repo(repo)}/collaborators/{quote(user, safe='')}/permission"
        data = self._send("GET", path, missing_ok=True).data
        data = data if isinstance(data, dict) else {}
        if data.get("role_name") == "maintain":
            return "maintain"
        return str(data.get("permission") or "none")

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        url: str | None = f"/repos/{_repo(repo)}/issues/{number}/comments?per_page=100"
        comments: list[dict[str, Any]] = []
        while url is not None:
            response = self._send("GET", url)
            if not isinstance(response.data, list):
                raise GitHubError(f"GitHub GET {urlsplit(url).path} did not answer with a list")
            comments.extend(response.data)
            url = self._relative(next_link(response.headers.get("link", "")))
        return comments

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        path = f"/repos/{_repo(repo)}/issues/{number}/comments"
        return self._json("POST", path, {"body": body}, idempotent=False)

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        path = f"/repos/{_repo(repo)}/issues/comments/{comment_id}"
        return self._json("PATCH", path, {"body": body})

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        path = f"/repos/{_repo(repo)}/issues/{number}/labels"
        self._send("POST", path, {"labels": list(labels)})

    def remove_label(self, repo: str, number: int, label: str) -> None:
        path = f"/repos/{_repo(repo)}/issues/{number}/labels/{quote(label, safe='')}"
        self._send("DELETE", path, missing_ok=True)

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str
    ) -> dict[str, Any]:
        payload = {"title": title, "head": head, "base": base, "body": body}
        return self._json("POST", f"/repos/{_repo(repo)}/pulls", payload, idempotent=False)

    def find_pull(self, repo: str, *, head: str, base: str) -> dict[str, Any] | None:
        owner = repo.split("/", 1)[0]
        qualified = head if ":" in head else f"{owner}:{head}"
        query = urlencode({"head": qualified, "base": base, "state": "open"})
        pulls = self._send("GET", f"/repos/{_repo(repo)}/pulls?{query}").data
        return dict(pulls[0]) if isinstance(pulls, list) and pulls else None

    def update_pull(self, repo: str, number: int, *, body: str) -> dict[str, Any]:
        return self._json("PATCH", f"/repos/{_repo(repo)}/pulls/{number}", {"body": body})

    def _json(
        self, method: str, path: str, payload: dict[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        data = self._send(method, path, payload, idempotent=idempotent).data
        return dict(data) if isinstance(data, dict) else {}

    def _relative(self, url: str | None) -> str | None:
        # The next page must come from the same API, or the token would go elsewhere.
        if url is None:
            return None
        if not url.startswith(self.api_url + "/"):
            raise GitHubError(f"GitHub pagination pointed outside {self.api_url}: {url}")
        return url[len(self.api_url) :]

    def _send(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        missing_ok: bool = False,
        idempotent: bool = True,
    ) -> Response:
        """One API call with retries; with ``missing_ok`` a 404 is a reply (data None), not an error.

        ``idempotent=False`` (a request that creates something) goes to ``retry_delay``, which
        then retries only rate limits.
        """
        where = f"{method} {urlsplit(path).path}"
        attempt = 0
        while True:
            status, headers, text = self._once(method, path, payload)
            if status is not None and 200 <= status < 300:
                return Response(status, headers, _parse(where, text))
            if status == 404 and missing_ok:
                return Response(status, headers, None)
            delay = retry_delay(status, headers, text, attempt, self._now(), idempotent=idempotent)
            if delay is None:
                raise GitHubError(_refused(where, status, text), status=status)
            if attempt >= self.max_retries:
                raise GitHubError(_exhausted(where, status, text, attempt), status=status)
            if delay > self.max_wait:
                raise GitHubError(_too_long(where, status, delay, self.max_wait), status=status)
            self._sleep(delay)
            attempt += 1

    def _once(
        self, method: str, path: str, payload: dict[str, Any] | None
    ) -> tuple[int | None, dict[str, str], str]:
        """One HTTP exchange: status (None if no response), lower-cased headers, body text."""
        request = urllib.request.Request(
            self.api_url + path,
            data=None if payload is None else json.dumps(payload).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
                **({} if payload is None else {"Content-Type": "application/json"}),
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                return reply.status, _lower(reply.headers), reply.read().decode()
        except HTTPError as exc:
            with exc:
                return exc.code, _lower(exc.headers), exc.read().decode(errors="replace")
        except (URLError, OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, URLError) else exc
            return None, {}, f"no connection ({reason!s})"


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within one origin: urllib would carry the token anywhere."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        here, there = urlsplit(req.full_url), urlsplit(newurl)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _repo(repo: str) -> str:
    owner, _, name = repo.strip("/").partition("/")
    if not owner or not name or "/" in name:
        raise GitHubError(f"not a repository name: {repo!r}; use owner/name")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _parse(where: str, text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        raise GitHubError(f"GitHub {where} answered with a body that is not JSON") from None


def _lower(headers: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _message(status: int, text: str) -> str:
    """GitHub's ``message`` (with any field errors) from an error body, on one line."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):  # a proxy's or load balancer's HTML page, say
        return _phrase(status)
    message = str(data.get("message") or "no message")
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        details = [e.get("message") or e.get("code") if isinstance(e, dict) else e for e in errors]
        message += " (" + "; ".join(str(d) for d in details if d) + ")"
    return " ".join(message.split())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no message"


_HINTS = {
    401: "check the token (the github-token input or GITHUB_TOKEN)",
    403: "give the token the permissions this needs (issues, pull-requests, contents: write)",
    404: "check the repository, number and that the token can see them",
    422: "GitHub rejected the request as invalid",
}


def _refused(where: str, status: int | None, text: str) -> str:
    hint = _HINTS.get(status or 0, "see GitHub's message")
    got = f"({status}): {_message(status, text)}" if status is not None else text
    return f"GitHub {where} failed {got}; {hint}"


def _exhausted(where: str, status: int | None, text: str, retries: int) -> str:
    got = f"{status}: {_message(status, text)}" if status is not None else text
    return f"GitHub {where} still failing after {retries} retries ({got}); try again later"


def _too_long(where: str, status: int | None, delay: float, max_wait: float) -> str:
    return (
        f"GitHub {where} is rate limited ({status}) for {delay:.0f} s, more than the "
        f"{max_wait:.0f} s allowed; run again after the limit resets"
    )
