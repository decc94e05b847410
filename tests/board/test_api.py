"""The board's HTTP API, pages and event stream: a real server over HTTP, and `forge board` itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import filelock
import pytest

from leanforge.board import data
from leanforge.board.server import POLL_SECONDS, BoardServer
from leanforge.context import Forge


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def get_json(url: str) -> Any:
    status, headers, body = fetch(url)
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


@pytest.fixture(scope="module")
def board(board_repo: Any) -> Iterator[BoardServer]:
    with BoardServer(board_repo.forge, "127.0.0.1", 0, None) as server:
        yield server


def test_api_tasks(board: BoardServer) -> None:
    rows = {row["slug"]: row for row in get_json(board.url + "api/tasks")}
    assert rows["fix-add"]["status"] == "merged"
    assert rows["fix-sub"]["status"] == "failed"


def test_api_task_detail(board: BoardServer, board_repo: Any) -> None:
    merged = get_json(board.url + "api/tasks/fix-add")
    assert merged["merged_commit"] == board_repo.record("fix-add")["merged_commit"]
    assert [s["kind"] for s in merged["timeline"]] == ["spec", "attempt", "merge", "playbook"]
    assert merged["tests"][0]["path"] == "tests/test_calc.py"
    assert "+    return a + b" in merged["diff"]
    failed = get_json(board.url + "api/tasks/fix-sub")
    (verdict,) = failed["timeline"][1]["verdicts"]
    assert verdict["blockers"][0]["title"] == board_repo.BLOCKER
    assert failed["timeline"][1]["status"] == "failed"


def test_api_transcripts_are_listed_and_readable(board: BoardServer) -> None:
    sessions = get_json(board.url + "api/tasks/fix-sub")["transcripts"]
    assert {"engineer", "reviewer"} <= {s["role"] for s in sessions}
    for session in sessions:
        doc = get_json(f"{board.url}api/tasks/fix-sub/transcripts/{session['session']}")
        assert doc["session"] == session["session"]
        assert len(doc["events"]) == session["events"]
        assert doc["events"][0]["event"] == "start"
    status, _, body = fetch(board.url + "api/tasks/fix-sub/transcripts/no-such-session")
    assert status == 404 and "error" in json.loads(body)


def test_api_labs_and_playbook(board: BoardServer) -> None:
    (row,) = get_json(board.url + "api/labs")
    assert (row["name"], row["experiments"], row["best"]["mean"]) == ("speed", 2, 50.0)
    detail = get_json(board.url + "api/labs/speed")
    assert [r["status"] for r in detail["rows"]] == ["baseline", "kept", "discarded"]
    assert detail["running"] is False and detail["metric"] == "steps"
    playbook = get_json(board.url + "api/playbook")
    assert set(playbook) == {"text"} and "add must add" in playbook["text"]


def test_unknown_names_are_404(board: BoardServer) -> None:
    for path in ("api/tasks/no-such-task", "api/labs/no-such-lab", "api/nothing", "api/tasks/"):
        status, headers, body = fetch(board.url + path)
        assert status == 404, path
        assert headers["Content-Type"] == "application/json" and json.loads(body)["error"]
    for path in ("tasks/no-such-task", "labs/no-such-lab", "nothing", "tasks/Fix-Add"):
        status, headers, body = fetch(board.url + path)
        assert status == 404, path
        assert headers["Content-Type"].startswith("text/html") and b"<html" in body.lower()


def test_pages_render(board: BoardServer) -> None:
    for path, expected in [
        ("", b"fix-add"),
        ("tasks", b"fix-sub"),
        ("tasks/fix-add", b"fix-add"),
        ("tasks/fix-sub", b"subtracts wrong"),
        ("labs", b"speed"),
        ("labs/speed", b"steps"),
        ("playbook", b"add must add"),
    ]:
        status, headers, body = fetch(board.url + path)
        assert status == 200, (path, body[:500])
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert expected in body, path


def test_static_files(board: BoardServer) -> None:
    for name, kind in [("board.css", "text/css"), ("board.js", "text/javascript")]:
        status, headers, body = fetch(board.url + "static/" + name)
        assert status == 200 and body
        assert headers["Content-Type"].startswith(kind)
        assert headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(board.url + "static/missing.css")[0] == 404
    assert fetch(board.url + "static/")[0] == 404


def test_head_has_no_body(board: BoardServer) -> None:
    status, headers, body = fetch(board.url + "api/tasks", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) > 0


def test_a_running_build_shows_building(board: BoardServer, board_repo: Any) -> None:
    lock = filelock.FileLock(str(board_repo.root / ".git/forge/tasks/fix-add/build.lock"))
    with lock.acquire(timeout=5):
        rows = {row["slug"]: row for row in get_json(board.url + "api/tasks")}
        assert (rows["fix-add"]["status"], rows["fix-add"]["record_status"]) == (
            "building",
            "merged",
        )
    rows = {row["slug"]: row for row in get_json(board.url + "api/tasks")}
    assert rows["fix-add"]["status"] == "merged"


def read_event(stream: Any) -> dict[str, Any]:
    """The next ``state`` event of a server-sent event stream (skipping heartbeats)."""
    lines: list[str] = []
    while True:
        line = stream.readline().decode()
        assert line, "the stream ended"
        if line == "\n" and lines:
            break
        if line != "\n" and not line.startswith(":"):
            lines.append(line.rstrip("\n"))
    assert lines[0] == "event: state", lines
    payload: dict[str, Any] = json.loads(lines[1].removeprefix("data: "))
    return payload


def test_events_stream_a_new_version_on_a_state_change(board: BoardServer, board_repo: Any) -> None:
    with urllib.request.urlopen(board.url + "api/events", timeout=20) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = read_event(stream)
        assert set(first) == {"version"} and first["version"]
        marker = board_repo.root / ".git/forge/tasks/fix-sub/board-test-touch.txt"
        marker.write_text("changed")
        try:
            second = read_event(stream)
        finally:
            marker.unlink()
        assert second["version"] != first["version"]
        assert read_event(stream)["version"] == first["version"]  # and back


def test_event_streams_share_one_state_walk_per_poll(
    board_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks: list[Forge] = []

    def walk(forge: Forge) -> str:
        walks.append(forge)
        return f"v{len(walks)}"

    clock = [1000.0]
    monkeypatch.setattr(data, "version", walk)
    monkeypatch.setattr("leanforge.board.server.monotonic", lambda: clock[0])
    server = BoardServer(board_repo.forge, "127.0.0.1", 0, None)
    try:
        seen: list[str] = []
        streams = [threading.Thread(target=lambda: seen.append(server.version())) for _ in range(8)]
        for stream in streams:
            stream.start()
        for stream in streams:
            stream.join()
        assert seen == ["v1"] * 8 and len(walks) == 1
        clock[0] += POLL_SECONDS * 0.9
        assert server.version() == "v1" and len(walks) == 1
        clock[0] += POLL_SECONDS * 0.1
        assert server.version() == "v2" and len(walks) == 2
        assert walks[0] is walks[1], "one forge, used under the lock only"
    finally:
        server.stop()


# -- `forge board` ------------------------------------------------------------------------------


def start_board(board_repo: Any, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "leanforge", "board", "--no-open", *args],
        cwd=board_repo.root,
        env={**os.environ, "BROWSER": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_forge_board_serves_until_ctrl_c(board_repo: Any) -> None:
    process = start_board(board_repo, "--port", "0", "--json")
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert started["token"] is None
        assert started["url"].startswith("http://127.0.0.1:")
        rows = get_json(started["url"] + "api/tasks")
        assert "fix-add" in {row["slug"] for row in rows}
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in err and out == ""


def test_forge_board_text_and_token_off_loopback(board_repo: Any) -> None:
    process = start_board(board_repo, "--port", "0", "--host", "0.0.0.0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("board: http://0.0.0.0:") and "/?token=" in line
        url = line.removeprefix("board: ")
        port = url.split(":")[2].split("/")[0]
        token = url.split("?token=")[1]
        assert len(token) >= 32
        assert fetch(f"http://127.0.0.1:{port}/api/tasks")[0] == 401
        assert fetch(f"http://127.0.0.1:{port}/api/tasks?token={token}")[0] == 200
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and out.strip() == "stopped"


def test_forge_board_on_a_busy_port_says_so(board_repo: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_board(board_repo, "--port", str(port))
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and out == ""
    assert f"port {port}" in err and "--port" in err and len(err.strip().splitlines()) == 1
