"""A local fake of the GitHub REST endpoints the Action uses, so the real ``RestClient`` runs.

``RestClient(token, api_url=server.url)`` works unchanged against it: bearer-token auth, paginated
issue comments with a real ``Link`` header, GitHub-shaped JSON errors, and scripted failures
(rate limits, 5xx) via ``fail``. State lives in plain attributes tests seed and inspect; the repo
in each path (``owner/name``) is accepted but not used to separate state.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from leanforge.localhttp import Answer, LocalServer

DOCS_URL = "https://docs.github.com/rest"
_ROLE_PERMISSION = {"maintain": "write", "triage": "read"}


@dataclass(frozen=True)
class Captured:
    """One request as the server received it; ``body`` is the parsed JSON (None if empty)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    message: str
    times: int
    method: str | None
    path_contains: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass(frozen=True)
class _Response:
    status: int
    payload: Any
    headers: dict[str, str]


def _ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, payload, dict(headers or {}))


def _error(status: int, message: str = "", headers: dict[str, str] | None = None) -> _Response:
    text = message or HTTPStatus(status).phrase
    return _Response(status, {"message": text, "documentation_url": DOCS_URL}, dict(headers or {}))


class FakeGitHub(LocalServer):
    """A GitHub REST API on ``127.0.0.1`` at a random port; use as a context manager."""

    def __init__(self, token: str = "fake-token", *, login: str = "github-actions[bot]") -> None:
        self.token = token
        #: The login that comments made through the API are attributed to.
        self.login = login
        #: user -> "admin" | "maintain" | "write" | "triage" | "read" | "none"; others get 404.
        self.permissions: dict[str, str] = {}
        #: comment id -> {"id", "issue", "body", "user"} (user is a login).
        self.comments: dict[int, dict[str, Any]] = {}
        #: issue number -> its labels.
        self.labels: dict[int, set[str]] = {}
        #: {"number", "title", "head", "base", "body", "html_url", "state"}; head/base are branches.
        self.pulls: list[dict[str, Any]] = []
        self.requests: list[Captured] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()

    def fail(
        self,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        message: str = "",
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Make the next ``times`` matching requests fail with this status, headers and message."""
        with self._lock:
            failure = _Failure(status, dict(headers or {}), message, times, method, path_contains)
            self._failures.append(failure)

    def add_comment(self, issue: int, body: str, *, user: str = "octocat") -> dict[str, Any]:
        """Seed a comment on ``issue`` with the next free id; returns the stored record."""
        with self._lock:
            return self._store_comment(issue, body, user)

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        response = self._respond(method, target, headers, raw)
        data = b"" if response.payload is None else json.dumps(response.payload).encode()
        content = {"content-type": "application/json; charset=utf-8"}
        return Answer(response.status, {**content, **response.headers}, [data])

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Response:
        split = urlsplit(target)
        query = dict(parse_qsl(split.query))
        body, bad_json = _parse_json(raw)
        with self._lock:
            self.requests.append(Captured(method, split.path, query, headers, body, time.time()))
            if headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "Bad credentials")
            failure = self._take_failure(method, split.path)
            if failure is not None:
                return _error(failure.status, failure.message, failure.headers)
            if bad_json:
                return _error(400, "Problems parsing JSON")
            segments = [unquote(s) for s in split.path.strip("/").split("/")]
            if len(segments) < 4 or segments[0] != "repos":
                return _error(404)
            return self._route(method, f"{segments[1]}/{segments[2]}", segments[3:], query, body)

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.times > 0 and failure.matches(method, path):
                failure.times -= 1
                return failure
        return None

    def _route(
        self, method: str, repo: str, rest: list[str], query: dict[str, str], body: Any
    ) -> _Response:
        payload = body if isinstance(body, dict) else {}
        match method, rest:
            case "GET", ["collaborators", user, "permission"]:
                return self._permission(user)
            case "GET", ["issues", number, "comments"] if number.isdigit():
                return self._list_comments(repo, int(number), query)
            case "POST", ["issues", number, "comments"] if number.isdigit():
                return self._create_comment(repo, int(number), payload)
            case "PATCH", ["issues", "comments", comment_id] if comment_id.isdigit():
                return self._update_comment(repo, int(comment_id), payload)
            case "POST", ["issues", number, "labels"] if number.isdigit():
                return self._add_labels(int(number), payload)
            case "DELETE", ["issues", number, "labels", label] if number.isdigit():
                return self._remove_label(int(number), label)
            case "POST", ["pulls"]:
                return self._create_pull(repo, payload)
            case "GET", ["pulls"]:
                return self._list_pulls(repo, query)
            case "PATCH", ["pulls", number] if number.isdigit():
                return self._update_pull(repo, int(number), payload)
        return _error(404)

    def _permission(self, user: str) -> _Response:
        role = self.permissions.get(user)
        if role is None:
            return _error(404)
        permission = _ROLE_PERMISSION.get(role, role)
        return _ok({"permission": permission, "role_name": role, "user": {"login": user}})

    def _list_comments(self, repo: str, issue: int, query: dict[str, str]) -> _Response:
        per_page = min(max(_int(query.get("per_page"), 30), 1), 100)
        page = max(_int(query.get("page"), 1), 1)
        found = sorted((c for c in self.comments.values() if c["issue"] == issue), key=_id)
        last = max(1, -(-len(found) // per_page))
        chunk = found[(page - 1) * per_page : page * per_page]
        link = self._link(f"/repos/{repo}/issues/{issue}/comments", query, page, last)
        return _ok([self._comment_json(repo, c) for c in chunk], headers=link)

    def _link(self, path: str, query: dict[str, str], page: int, last: int) -> dict[str, str]:
        def at(n: int) -> str:
            return f"{self.url}{path}?{urlencode({**query, 'page': str(n)})}"

        rels = {"prev": page - 1, "next": page + 1, "first": 1, "last": last}
        shown = [
            f'<{at(n)}>; rel="{rel}"'
            for rel, n in rels.items()
            if 1 <= n <= last and (rel in ("prev", "next") or n != page)
        ]
        return {"link": ", ".join(shown)} if shown else {}

    def _create_comment(self, repo: str, issue: int, payload: dict[str, Any]) -> _Response:
        if not isinstance(payload.get("body"), str):
            return _error(422, "Invalid request: body is required")
        comment = self._store_comment(issue, payload["body"], self.login)
        return _ok(self._comment_json(repo, comment), status=201)

    def _update_comment(self, repo: str, comment_id: int, payload: dict[str, Any]) -> _Response:
        comment = self.comments.get(comment_id)
        if comment is None:
            return _error(404)
        if not isinstance(payload.get("body"), str):
            return _error(422, "Invalid request: body is required")
        comment["body"] = payload["body"]
        return _ok(self._comment_json(repo, comment))

    def _store_comment(self, issue: int, body: str, user: str) -> dict[str, Any]:
        comment_id = max(self.comments, default=1000) + 1
        comment = {"id": comment_id, "issue": issue, "body": body, "user": user}
        self.comments[comment_id] = comment
        return comment

    def _comment_json(self, repo: str, comment: dict[str, Any]) -> dict[str, Any]:
        user = comment["user"]
        return {
            "id": comment["id"],
            "body": comment["body"],
            "user": {"login": user, "type": "Bot" if user.endswith("[bot]") else "User"},
            "html_url": f"https://github.com/{repo}/issues/{comment['issue']}"
            f"#issuecomment-{comment['id']}",
        }

    def _add_labels(self, issue: int, payload: dict[str, Any]) -> _Response:
        labels = payload.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return _error(422, "Invalid request: labels must be a list of strings")
        current = self.labels.setdefault(issue, set())
        current.update(labels)
        return _ok([{"name": name} for name in sorted(current)])

    def _remove_label(self, issue: int, label: str) -> _Response:
        current = self.labels.get(issue, set())
        if label not in current:
            return _error(404, "Label does not exist")
        current.discard(label)
        return _ok([{"name": name} for name in sorted(current)])

    def _create_pull(self, repo: str, payload: dict[str, Any]) -> _Response:
        fields = {key: payload.get(key) for key in ("title", "head", "base")}
        if not all(isinstance(value, str) and value for value in fields.values()):
            return _error(422, "Validation Failed: title, head and base are required")
        head = str(fields["head"]).partition(":")[2] or str(fields["head"])
        if any(self._is_open(p, head, fields["base"]) for p in self.pulls):
            return _error(422, f"Validation Failed: a pull request already exists for {head}")
        number = max((int(p["number"]) for p in self.pulls), default=0) + 1
        pull = {
            "number": number,
            "title": fields["title"],
            "head": head,
            "base": fields["base"],
            "body": str(payload.get("body") or ""),
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "state": "open",
        }
        self.pulls.append(pull)
        return _ok(self._pull_json(repo, pull), status=201)

    def _list_pulls(self, repo: str, query: dict[str, str]) -> _Response:
        head = query.get("head", "")
        branch = head.partition(":")[2] or head
        state = query.get("state", "open")
        found = [
            p
            for p in self.pulls
            if (not head or p["head"] == branch)
            and query.get("base", p["base"]) == p["base"]
            and state in ("all", p["state"])
        ]
        return _ok([self._pull_json(repo, p) for p in found])

    def _update_pull(self, repo: str, number: int, payload: dict[str, Any]) -> _Response:
        pull = next((p for p in self.pulls if p["number"] == number), None)
        if pull is None:
            return _error(404)
        for key in ("title", "body", "state"):
            if isinstance(payload.get(key), str):
                pull[key] = payload[key]
        return _ok(self._pull_json(repo, pull))

    @staticmethod
    def _is_open(pull: dict[str, Any], head: str, base: object) -> bool:
        return bool(pull["state"] == "open" and pull["head"] == head and pull["base"] == base)

    @staticmethod
    def _pull_json(repo: str, pull: dict[str, Any]) -> dict[str, Any]:
        owner = repo.partition("/")[0]
        head = {"ref": pull["head"], "label": f"{owner}:{pull['head']}"}
        return {**pull, "head": head, "base": {"ref": pull["base"]}}


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    """The parsed body (None if empty) and whether it failed to parse."""
    try:
        return (json.loads(raw) if raw else None), False
    except ValueError:
        return None, True


def _id(comment: dict[str, Any]) -> int:
    return int(comment["id"])


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
