"""The REST client against the local fake GitHub over real HTTP: calls, auth, retries, limits."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.error import HTTPError

import pytest

from leanforge.errors import GitHubError
from leanforge.github.fake_server import FakeGitHub
from leanforge.github.rest import API_URL, RestClient, next_link, retry_delay

#: Looks like a real installation token, so a leak would be easy to spot.
TOKEN = "ghs_" + "s3cr3t" * 6
REPO = "octo/widgets"
START = 1_700_000_000.0
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class Clock:
    """An injected clock: sleeping records the wait and moves time on, instantly."""

    t: float = START
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> float:
        return self.t


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(TOKEN) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(github: FakeGitHub, clock: Clock) -> RestClient:
    return RestClient(TOKEN, github.url, sleep=clock.sleep, now=clock.now, timeout=5.0)


def raw_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, dict(reply.headers), json.loads(reply.read())
    except HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())


def refused(error: pytest.ExceptionInfo[GitHubError]) -> str:
    message = str(error.value)
    assert TOKEN not in message and "s3cr3t" not in message
    assert "\n" not in message
    return message


# --- every call ----------------------------------------------------------------------------


def test_permission_reads_the_role_and_a_404_is_none(
    github: FakeGitHub, client: RestClient
) -> None:
    github.permissions.update(
        {"ada": "admin", "bo": "write", "mae": "maintain", "tri": "triage", "rey": "read"}
    )
    got = {user: client.permission(REPO, user) for user in ["ada", "bo", "mae", "tri", "rey"]}
    assert got == {"ada": "admin", "bo": "write", "mae": "maintain", "tri": "read", "rey": "read"}
    assert client.permission(REPO, "stranger") == "none"
    assert github.requests[-1].path == "/repos/octo/widgets/collaborators/stranger/permission"


def test_issue_comments_follows_every_page(github: FakeGitHub, client: RestClient) -> None:
    for n in range(250):
        github.add_comment(7, f"comment {n}")
    github.add_comment(8, "another issue")
    comments = client.issue_comments(REPO, 7)
    assert [c["body"] for c in comments] == [f"comment {n}" for n in range(250)]
    assert comments[0]["user"] == {"login": "octocat", "type": "User"}
    pages = [r.query for r in github.requests]
    assert pages == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
        {"per_page": "100", "page": "3"},
    ]
    assert client.issue_comments(REPO, 99) == []


def test_the_fake_paginates_with_a_link_header(github: FakeGitHub) -> None:
    for n in range(5):
        github.add_comment(1, f"c{n}")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, headers, page = raw_get(
        f"{github.url}/repos/o/r/issues/1/comments?per_page=2&page=2", auth
    )
    assert status == 200 and [c["body"] for c in page] == ["c2", "c3"]
    link = headers["link"]
    assert f'<{github.url}/repos/o/r/issues/1/comments?per_page=2&page=3>; rel="next"' in link
    assert 'page=1>; rel="prev"' in link and 'page=3>; rel="last"' in link
    assert next_link(link) == f"{github.url}/repos/o/r/issues/1/comments?per_page=2&page=3"
    _, headers, page = raw_get(f"{github.url}/repos/o/r/issues/1/comments?per_page=2&page=3", auth)
    assert [c["body"] for c in page] == ["c4"] and next_link(headers["link"]) is None


def test_create_and_update_a_comment(github: FakeGitHub, client: RestClient) -> None:
    made = client.create_comment(REPO, 12, "working on it")
    assert github.comments[made["id"]] == {
        "id": made["id"],
        "issue": 12,
        "body": "working on it",
        "user": "github-actions[bot]",
    }
    assert made["user"]["login"] == "github-actions[bot]"
    updated = client.update_comment(REPO, made["id"], "done")
    assert updated["body"] == "done" and github.comments[made["id"]]["body"] == "done"
    post, patch = github.requests
    assert (post.method, post.path, post.body) == (
        "POST",
        "/repos/octo/widgets/issues/12/comments",
        {"body": "working on it"},
    )
    assert (patch.method, patch.path) == (
        "PATCH",
        f"/repos/octo/widgets/issues/comments/{made['id']}",
    )
    assert post.headers["accept"] == "application/vnd.github+json"
    assert post.headers["x-github-api-version"] == "2022-11-28"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["user-agent"].startswith("leanforge")


def test_updating_a_missing_comment_names_the_call_and_the_fix(
    client: RestClient, clock: Clock
) -> None:
    with pytest.raises(GitHubError) as error:
        client.update_comment(REPO, 424242, "x")
    assert error.value.status == 404 and clock.sleeps == []
    message = refused(error)
    assert "PATCH /repos/octo/widgets/issues/comments/424242" in message
    assert "(404): Not Found" in message and "check the repository" in message


def test_labels_are_added_and_removed_and_a_missing_one_is_ignored(
    github: FakeGitHub, client: RestClient
) -> None:
    client.add_labels(REPO, 3, ["forge", "needs spec", "area/ci"])
    assert github.labels[3] == {"forge", "needs spec", "area/ci"}
    client.remove_label(REPO, 3, "needs spec")
    client.remove_label(REPO, 3, "area/ci")
    client.remove_label(REPO, 3, "never there")
    assert github.labels[3] == {"forge"}
    deletes = [r.path for r in github.requests if r.method == "DELETE"]
    assert deletes[:2] == [
        "/repos/octo/widgets/issues/3/labels/needs%20spec",
        "/repos/octo/widgets/issues/3/labels/area%2Fci",
    ]
    assert github.requests[0].body == {"labels": ["forge", "needs spec", "area/ci"]}


def test_pulls_are_created_found_and_updated(github: FakeGitHub, client: RestClient) -> None:
    assert client.find_pull(REPO, head="forge/fix-add", base="main") is None
    made = client.create_pull(REPO, title="Fix add", head="forge/fix-add", base="main", body="v1")
    assert made["number"] == 1 and made["html_url"] == "https://github.com/octo/widgets/pull/1"
    found = client.find_pull(REPO, head="forge/fix-add", base="main")
    assert found is not None and found["number"] == 1 and found["head"]["ref"] == "forge/fix-add"
    assert github.requests[-1].query == {
        "head": "octo:forge/fix-add",
        "base": "main",
        "state": "open",
    }
    assert client.find_pull(REPO, head="forge/fix-add", base="develop") is None
    assert client.update_pull(REPO, 1, body="v2")["body"] == "v2"
    assert github.pulls[0]["body"] == "v2" and github.pulls[0]["title"] == "Fix add"
    github.pulls[0]["state"] = "closed"
    assert client.find_pull(REPO, head="forge/fix-add", base="main") is None


def test_a_rejected_pull_fails_at_once_with_githubs_message(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    client.create_pull(REPO, title="t", head="b", base="main", body="")
    with pytest.raises(GitHubError) as error:
        client.create_pull(REPO, title="t", head="b", base="main", body="")
    assert error.value.status == 422 and clock.sleeps == []
    assert "a pull request already exists for b" in refused(error)
    assert len(github.pulls) == 1


# --- auth and configuration ----------------------------------------------------------------


def test_the_fake_requires_the_bearer_token(github: FakeGitHub) -> None:
    url = f"{github.url}/repos/o/r/collaborators/ada/permission"
    status, _, body = raw_get(url)
    assert status == 401 and body["message"] == "Bad credentials" and "documentation_url" in body
    assert raw_get(url, {"Authorization": f"token {TOKEN}"})[0] == 401


def test_a_wrong_token_fails_without_retrying_or_leaking_it(
    github: FakeGitHub, clock: Clock
) -> None:
    client = RestClient(TOKEN + "x", github.url, sleep=clock.sleep, now=clock.now)
    with pytest.raises(GitHubError) as error:
        client.create_comment(REPO, 1, "hi")
    assert error.value.status == 401 and clock.sleeps == []
    assert "Bad credentials" in refused(error) and "github-token" in str(error.value)
    assert TOKEN not in repr(client)
    assert github.comments == {}


def test_every_request_carries_the_token(github: FakeGitHub, client: RestClient) -> None:
    client.permission(REPO, "x")
    client.add_labels(REPO, 1, ["a"])
    assert {r.headers["authorization"] for r in github.requests} == {f"Bearer {TOKEN}"}


def test_from_env_honours_the_api_url_and_needs_a_token(github: FakeGitHub) -> None:
    github.permissions["ada"] = "write"
    client = RestClient.from_env({"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url + "/"})
    assert client.permission(REPO, "ada") == "write"
    assert RestClient.from_env({"GITHUB_TOKEN": TOKEN}).api_url == API_URL
    for env in ({}, {"GITHUB_TOKEN": "  "}):
        with pytest.raises(GitHubError, match=r"github-token input .* GITHUB_TOKEN"):
            RestClient.from_env(env)


# --- retries and rate limits ---------------------------------------------------------------


def test_a_403_with_retry_after_waits_that_long(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    github.fail(403, headers={"retry-after": "7"}, message=SECONDARY, method="POST")
    made = client.create_comment(REPO, 1, "hi")
    assert clock.sleeps == [7.0]
    assert list(github.comments) == [made["id"]]
    assert [r.method for r in github.requests] == ["POST", "POST"]


def test_a_429_is_retried(github: FakeGitHub, client: RestClient, clock: Clock) -> None:
    github.fail(429, headers={"retry-after": "3"})
    github.fail(429)
    github.permissions["ada"] = "read"
    assert client.permission(REPO, "ada") == "read"
    assert clock.sleeps == [3.0, 120.0]


def test_the_primary_limit_waits_until_the_reset(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(START) + 120)}
    github.fail(403, headers=reset, message="API rate limit exceeded for installation.")
    client.add_labels(REPO, 1, ["forge"])
    assert clock.sleeps == [121.0]
    assert github.labels == {1: {"forge"}}


def test_a_secondary_limit_waits_a_minute_and_longer_each_time(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    github.fail(403, message=SECONDARY, times=2, path_contains="/labels")
    client.add_labels(REPO, 1, ["forge"])
    assert clock.sleeps == [60.0, 120.0]
    assert all(wait >= 60 for wait in clock.sleeps)


def test_a_502_is_retried_with_backoff(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    github.fail(502, times=3)
    assert client.issue_comments(REPO, 1) == []
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_exhausted_retries_raise_with_the_call_and_status(github: FakeGitHub, clock: Clock) -> None:
    client = RestClient(TOKEN, github.url, sleep=clock.sleep, now=clock.now, max_retries=3)
    github.fail(502, times=10)
    with pytest.raises(GitHubError) as error:
        client.issue_comments(REPO, 5)
    assert clock.sleeps == [1.0, 2.0, 4.0] and len(github.requests) == 4
    message = refused(error)
    assert "GET /repos/octo/widgets/issues/5/comments" in message
    assert "after 3 retries (502: Bad Gateway)" in message and "try again later" in message


def test_a_wait_longer_than_max_wait_gives_up_at_once(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(START) + 3600)}
    github.fail(403, headers=reset, message="API rate limit exceeded")
    with pytest.raises(GitHubError) as error:
        client.create_comment(REPO, 1, "hi")
    assert clock.sleeps == [] and len(github.requests) == 1 and error.value.status == 403
    message = refused(error)
    assert "POST /repos/octo/widgets/issues/1/comments is rate limited (403)" in message
    assert "3601 s" in message and "after the limit resets" in message


def test_a_403_that_is_not_a_limit_is_not_retried(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    github.fail(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError) as error:
        client.create_pull(REPO, title="t", head="b", base="main", body="")
    assert clock.sleeps == []
    message = refused(error)
    assert "Resource not accessible by integration" in message and "permissions" in message


def test_no_connection_backs_off_then_fails(clock: Clock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = RestClient(
        TOKEN, f"http://127.0.0.1:{port}", sleep=clock.sleep, now=clock.now, max_retries=2
    )
    with pytest.raises(GitHubError) as error:
        client.permission(REPO, "ada")
    assert clock.sleeps == [1.0, 2.0] and error.value.status is None
    assert "no connection" in refused(error)


def test_a_redirect_to_another_origin_is_not_followed(github: FakeGitHub, clock: Clock) -> None:
    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("location", github.url + self.path)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with HTTPServer(("127.0.0.1", 0), Elsewhere) as redirector:
        thread = threading.Thread(target=redirector.handle_request, daemon=True)
        thread.start()
        port = redirector.server_address[1]
        client = RestClient(TOKEN, f"http://127.0.0.1:{port}", sleep=clock.sleep, now=clock.now)
        with pytest.raises(GitHubError) as error:
            client.find_pull(REPO, head="b", base="main")
        thread.join(5)
    assert error.value.status == 302 and github.requests == [], "the token stayed home"
    refused(error)


# --- the pure decision ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "attempt", "expected"),
    [
        (403, {"Retry-After": "30"}, "", 0, 30.0),
        (429, {"retry-after": "5"}, "", 3, 5.0),
        (403, {"retry-after": "5", "x-ratelimit-remaining": "0"}, "", 0, 5.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(START + 10)}, "", 0, 11.0),
        (429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(START - 5)}, "", 0, 1.0),
        (403, {"x-ratelimit-remaining": "0"}, "", 1, 120.0),
        (403, {}, json.dumps({"message": SECONDARY}), 0, 60.0),
        (403, {}, json.dumps({"message": SECONDARY}), 2, 240.0),
        (429, {}, "", 0, 60.0),
        (403, {"x-ratelimit-remaining": "12"}, '{"message": "Must have admin rights"}', 0, None),
        (403, {"retry-after": "soon"}, "", 0, None),
        (500, {}, "", 0, 1.0),
        (502, {}, "", 2, 4.0),
        (None, {}, "", 3, 8.0),
        (400, {}, "", 0, None),
        (401, {"retry-after": "5"}, "", 0, None),
        (404, {}, "", 0, None),
        (422, {}, "", 0, None),
    ],
)
def test_retry_delay(
    status: int | None, headers: dict[str, str], body: str, attempt: int, expected: float | None
) -> None:
    assert retry_delay(status, headers, body, attempt, START) == expected


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (500, {}, "", None),
        (502, {}, "", None),
        (None, {}, "", None),
        (429, {"retry-after": "3"}, "", 3.0),
        (403, {}, json.dumps({"message": SECONDARY}), 60.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(START + 10)}, "", 11.0),
        (422, {}, "", None),
    ],
)
def test_retry_delay_retries_a_request_that_creates_something_only_after_a_rate_limit(
    status: int | None, headers: dict[str, str], body: str, expected: float | None
) -> None:
    """A 5xx or a lost connection may come after GitHub applied the request: no retry."""
    assert retry_delay(status, headers, body, 0, START, idempotent=False) == expected


def test_next_link_reads_only_rel_next() -> None:
    link = '<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next"'
    assert next_link(link) == "https://api.github.com/x?page=3"
    assert next_link('<https://api.github.com/x?page=1>; rel="first"') is None
    assert next_link("") is None


def test_creating_a_comment_is_not_retried_after_a_server_error(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    """A 502 may come after GitHub made the comment: retrying could make a second one."""
    github.fail(502, method="POST")
    with pytest.raises(GitHubError, match="502"):
        client.create_comment("o/r", 5, "hello")
    assert clock.sleeps == [] and github.comments == {}


def test_creating_a_comment_is_retried_after_a_rate_limit(
    github: FakeGitHub, client: RestClient, clock: Clock
) -> None:
    github.fail(429, headers={"retry-after": "3"}, method="POST")
    client.create_comment("o/r", 5, "hello")
    assert clock.sleeps == [3.0] and len(github.comments) == 1
