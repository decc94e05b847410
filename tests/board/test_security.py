"""The board refuses what a read-only local server must: traversal, writes, strangers, rebinding."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from leanforge.board.server import BoardServer, route, split_host

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'"
)


def request(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send ``path`` exactly as given (no client-side normalisation) to 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def raw(port: int, request_line: bytes) -> tuple[int, bytes]:
    """Send a hand-written request (bytes http.client refuses to send) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer


@pytest.fixture(scope="module")
def board(board_repo: Any) -> Iterator[BoardServer]:
    with BoardServer(board_repo.forge, "127.0.0.1", 0, None) as server:
        yield server


#: Bytes that would show a file's contents had the server read it.
LEAKS = (b"root:", b"def task_rows", b"lock_sha256", b"import ", b"[core]")

TRAVERSALS = [
    "/api/tasks/..%2f..%2fetc",
    "/api/tasks/../../etc/passwd",
    "/api/tasks/fix-add/../../../config",
    "/static/../data.py",
    "/static/../server.py",
    "/static/%2e%2e/x",
    "/static/%2e%2e%2fdata.py",
    "/static/..%2fdata.py",
    "/static/board.css%00.png",
    "/static/.%2e/data.py",
    "/static/",
    "/static/.",
    "/api/tasks/fix-add/transcripts/..%2f..%2ftask.json",
    "/api/tasks/fix-add/transcripts/..",
    "/api/tasks/fix-add/transcripts/%2e%2e%2f%2e%2e%2ftask",
    "//etc/passwd",
    "/tasks//fix-add",
    "/api/tasks/fix-add%2f..%2f..%2f..%2fconfig",
    "/api/tasks/%66ix-add",
    "/static/..\\data.py",
    "/api/tasks/fix-add\\..\\..\\config",
    "/api/tasks/fix-add%00",
    "/api/tasks/FIX-ADD",
    "/api/tasks/" + "a" * 51,
    "/api/labs/../tasks",
    "/labs/speed/../../config",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_404_and_never_file_contents(board: BoardServer, path: str) -> None:
    status, headers, body = request(board.port, path)
    assert status == 404, (path, body[:300])
    assert not any(leak in body for leak in LEAKS), body[:300]
    assert headers["Content-Security-Policy"] == CSP


def test_nul_and_control_bytes_in_the_raw_path(board: BoardServer) -> None:
    for line in (
        b"GET /api/tasks/fix-add\x00 HTTP/1.1",
        b"GET /static/board.css\x00/../../data.py HTTP/1.1",
        b"GET /static/..\\..\\data.py HTTP/1.1",
        b"GET http://127.0.0.1/../../etc/passwd HTTP/1.1",
    ):
        status, answer = raw(board.port, line)
        assert status in (400, 404), (line, answer[:300])
        assert not any(leak in answer for leak in LEAKS)


def test_only_get_and_head(board: BoardServer) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, _ = request(board.port, "/api/tasks", method=method)
        assert status == 405, method
        assert headers["Allow"] == "GET, HEAD"
    status, _, _ = request(board.port, "/api/tasks", method="HEAD")
    assert status == 200


def test_security_headers_on_every_answer(board: BoardServer) -> None:
    for path, status in [("/", 200), ("/api/tasks", 200), ("/nothing", 404), ("/api/x", 404)]:
        got, headers, _ = request(board.port, path)
        assert got == status
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"


def test_loopback_needs_no_token_but_a_local_host_header(board: BoardServer) -> None:
    assert request(board.port, "/api/tasks")[0] == 200
    for host in ("localhost", f"localhost:{board.port}", f"127.0.0.1:{board.port}", "[::1]"):
        assert request(board.port, "/api/tasks", headers={"Host": host})[0] == 200, host
    for host in (
        "evil.example",
        f"evil.example:{board.port}",
        f"127.0.0.1.evil.example:{board.port}",
        f"localhost:{board.port + 1 if board.port < 65535 else 1}",
        "",
    ):
        status, _, body = request(board.port, "/api/tasks", headers={"Host": host})
        assert status == 403, host
        assert b"fix-add" not in body


def test_off_loopback_a_token_is_required(board_repo: Any) -> None:
    with pytest.raises(ValueError, match="token"):
        BoardServer(board_repo.forge, "0.0.0.0", 0, None)
    token = secrets.token_urlsafe(24)
    with BoardServer(board_repo.forge, "0.0.0.0", 0, token) as server:
        port = server.port
        assert server.share_url.endswith(f"/?token={token}")
        # Without it, or with a wrong one: 401, whatever the Host header says.
        for headers in (
            {},
            {"Host": "evil.example"},
            {"Cookie": "forge_board=wrong"},
            {"Authorization": "Bearer wrong"},
        ):
            status, answer_headers, body = request(port, "/api/tasks", headers=headers)
            assert status == 401, headers
            assert b"fix-add" not in body
            assert answer_headers["Content-Security-Policy"] == CSP
        assert request(port, "/api/tasks?token=wrong")[0] == 401
        assert request(port, "/static/board.css")[0] == 401
        assert request(port, "/api/tasks", method="POST")[0] == 401
        # With it in the query: 200, and a cookie that then works alone.
        status, headers, body = request(port, f"/api/tasks?token={token}")
        assert status == 200 and "fix-add" in {r["slug"] for r in json.loads(body)}
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"forge_board={token};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        pair = cookie.split(";")[0]
        assert request(port, "/api/labs", headers={"Cookie": pair})[0] == 200
        assert request(port, "/", headers={"Cookie": f"other=1; {pair}"})[0] == 200
        # Or as a bearer token.
        bearer = {"Authorization": f"Bearer {token}"}
        assert request(port, "/api/playbook", headers=bearer)[0] == 200
        # A valid token does not make writes possible.
        assert request(port, "/api/tasks", method="DELETE", headers=bearer)[0] == 405


def test_route_is_strict() -> None:
    assert route("/tasks/fix-add") is not None
    assert route("/api/tasks/fix-add/transcripts/20260101T000000-engineer-abc123") is not None
    for path in ("/tasks/fix-add/", "/tasks/-x", "/tasks/a--b", "/tasks/a_b", "tasks", ""):
        assert route(path) is None, path


def test_split_host() -> None:
    assert split_host("LocalHost:8765") == ("localhost", "8765")
    assert split_host("[::1]:80") == ("::1", "80")
    assert split_host("::1") == ("::1", "")
    assert split_host("[::1]x") is None
    assert split_host("") is None
