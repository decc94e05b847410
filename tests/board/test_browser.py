"""`forge board` in a real headless Chromium: the pages render, and a running build shows live.

The board runs as a subprocess (``forge board --port 0 --no-open --json``) in the repository of
the ``board_repo`` fixture; Selenium drives Debian's ``chromium`` through ``chromedriver``
(never a downloaded browser: Selenium Manager is kept offline). Without them the tests skip.

``FORGE_BOARD_SCREENSHOTS=1`` also saves the README's screenshots, docs/board-*.png (1280x900).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTH, HEIGHT = 1280, 900

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
        "apt-get install chromium chromium-driver",
        allow_module_level=True,
    )
os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a driver
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="needs selenium (pip install selenium)"
)
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class Board:
    """A running `forge board` and the browser looking at it."""

    def __init__(self, driver: WebDriver, url: str, process: subprocess.Popen[str]) -> None:
        self.driver = driver
        self.url = url
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.process = process

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def css(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector: str) -> WebElement:
        found = self.css(selector)
        assert len(found) == 1, f"{selector!r}: {len(found)} elements\n{self.source()}"
        return found[0]

    def source(self) -> str:
        return self.driver.page_source[:4000]

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 20) -> Any:
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
                lambda _driver: check()
            )
        except TimeoutException:
            pytest.fail(f"waited {timeout} s for {what}\n{self.source()}")

    def js(self, script: str) -> Any:
        return self.driver.execute_script(script)

    def errors(self) -> list[str]:
        """SEVERE browser console entries (script errors, CSP violations, failed loads)."""
        logs = self.driver.get_log("browser")
        return [
            e["message"]
            for e in logs
            if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]
        ]

    def screenshot(self, name: str) -> None:
        if os.environ.get("FORGE_BOARD_SCREENSHOTS") == "1":
            self.driver.save_screenshot(str(DOCS / name))


def _first_line(process: subprocess.Popen[str], timeout: float) -> tuple[str, threading.Thread]:
    """The board's first stdout line, and the thread that drains the rest (so the pipe never
    fills) until the board exits."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def drain() -> None:
        for line in stdout:
            lines.put(line)
        lines.put("")

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        return lines.get(timeout=timeout), thread
    except queue.Empty:
        return "", thread


def _stop(process: subprocess.Popen[str], drain: threading.Thread | None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if drain is not None:
        drain.join(timeout=10)  # it ends at EOF, now the board has exited
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture(scope="module")
def board(board_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    scratch = tmp_path_factory.mktemp("chromium")
    log = (scratch / "board.stderr").open("w+")
    process = subprocess.Popen(
        board_repo.command("board", "--port", "0", "--no-open", "--json"),
        cwd=board_repo.root,
        env=board_repo.env(),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    driver = None
    drain = None
    try:
        line, drain = _first_line(process, timeout=30)
        if not line:
            _stop(process, drain)
            log.seek(0)
            pytest.fail(f"`forge board --json` printed no URL\nstderr:\n{log.read()[-3000:]}")
        started = json.loads(line)
        assert set(started) >= {"url", "token"}, started
        assert urlsplit(started["url"]).hostname == "127.0.0.1", started

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            f"--user-data-dir={scratch / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.set_page_load_timeout(20)
        driver.get(started["url"])  # the printed URL, token and all
        yield Board(driver, started["url"], process)
    finally:
        if driver is not None:
            driver.quit()
        _stop(process, drain)
        log.close()


def row(board: Board, slug: str) -> list[WebElement]:
    return board.css(f'table#tasks tr.task[data-slug="{slug}"]')


def status_of(board: Board, slug: str) -> str | None:
    """A row's ``data-status``, read in one script (live updates replace rows under us)."""
    found: str | None = board.driver.execute_script(
        "const r = document.querySelector(arguments[0]); return r ? r.dataset.status : null;",
        f'table#tasks tr.task[data-slug="{slug}"]',
    )
    return found


def test_the_tasks_page_lists_every_task_with_its_status(board: Board) -> None:
    board.open("/")
    board.wait("table#tasks", lambda: board.css("table#tasks"))
    assert status_of(board, "fix-add") == "merged"
    assert status_of(board, "fix-sub") == "failed"
    assert row(board, "fix-mul"), "the spec'd, unbuilt task is listed too"
    for slug in ("fix-add", "fix-sub"):
        (tr,) = row(board, slug)
        cells = {
            name: tr.find_elements(By.CSS_SELECTOR, f"td.{name}")
            for name in ("status", "attempts", "cost", "duration", "reviewers")
        }
        assert all(len(found) == 1 for found in cells.values()), (slug, tr.text)
        assert "1" in cells["attempts"][0].text, (slug, cells["attempts"][0].text)
        assert cells["cost"][0].text.strip(), f"{slug}: empty cost cell"
    (failed,) = row(board, "fix-sub")
    assert "failed" in failed.find_element(By.CSS_SELECTOR, "td.status").text.lower()
    assert board.errors() == []


def test_the_task_page_shows_the_rejected_attempt_and_its_blocker(board: Board) -> None:
    board.open("/tasks/fix-sub")
    board.wait("ol#timeline", lambda: board.css("ol#timeline"))
    attempt = board.one('ol#timeline li.event.attempt[data-number="1"]')
    rejected = attempt.find_elements(By.CSS_SELECTOR, "li.verdict.rejected")
    assert rejected, attempt.get_attribute("outerHTML")
    titles = [
        t.text.strip() for v in rejected for t in v.find_elements(By.CSS_SELECTOR, ".blocker-title")
    ]
    assert "subtracts wrong" in titles, titles
    for section in ("#spec", "#tests", "#diff", "#transcripts", "#cost"):
        assert len(board.css(section)) == 1, f"no {section} section\n{board.source()}"
    assert "test_sub" in board.one("#tests").get_attribute("textContent")
    board.screenshot("board-task.png")
    assert board.errors() == []


def test_the_lab_page_charts_kept_and_discarded_experiments(board: Board) -> None:
    board.open("/labs/speed")
    board.wait("svg#lab-chart", lambda: board.css("svg#lab-chart"))
    chart = "svg#lab-chart"
    assert board.css(f"{chart} circle.point.kept"), board.source()
    assert board.css(f"{chart} circle.point.discarded"), board.source()
    assert board.css(f"{chart} polyline.best"), board.source()
    rows = board.css("table#experiments tbody tr") or board.css("table#experiments tr")
    texts = " ".join(r.text for r in rows)
    assert len(rows) >= 3 and "kept" in texts and "discarded" in texts, texts
    board.screenshot("board-lab.png")
    assert board.errors() == []


def test_a_running_build_shows_live_without_a_reload(
    board: Board, scripted_build: Callable[..., subprocess.Popen[str]]
) -> None:
    board.open("/")
    board.wait(
        "the SSE stream to open", lambda: board.js("return document.body.dataset.sse") == "open"
    )
    assert status_of(board, "fix-mul") not in (None, "building", "merged")
    board.js("window.__noReload = 1")
    before = int(board.js("return document.body.dataset.updates || '0'"))

    build = scripted_build("fix-mul", delay=3.0)
    board.wait("fix-mul to show building", lambda: status_of(board, "fix-mul") == "building")
    board.wait("fix-mul to show merged", lambda: status_of(board, "fix-mul") == "merged", 90)

    assert board.js("return window.__noReload") == 1, "the page reloaded"
    after = int(board.js("return document.body.dataset.updates || '0'"))
    assert after > before, (before, after)
    assert board.js("return document.body.dataset.sse") == "open"
    out, err = build.communicate(timeout=60)
    assert build.returncode == 0, err[-2000:] + out
    board.screenshot("board-tasks.png")
    assert board.errors() == []
