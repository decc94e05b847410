"""The board's pages: the DOM contract the browser test relies on, escaping, and the CSP."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from leanforge.board import render

EVIL = '<script>alert("x")</script>'
VOID = {"meta", "link", "br", "hr", "img", "input", "source", "wbr", "col", "area", "base"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    #: Text and child nodes, in document order.
    parts: list[str | Node] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.parts)

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if (
                (tag is None or child.tag == tag)
                and (cls is None or cls in child.classes)
                and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            ):
                found.append(child)
            found.extend(child.all(tag, cls, **attrs))
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one {tag}.{cls} {attrs}, found {len(found)}"
        return found[0]

    def by_id(self, ident: str) -> Node:
        return self.one(id=ident)


class Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.current = self.root
        self.script_bodies: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        self.current.parts.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        self.current.parts.append(node)

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None and node.parent is not None, f"stray </{tag}>"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        if self.current.tag == "script":
            self.script_bodies.append(data)
        self.current.parts.append(data)


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    assert tree.current is tree.root, f"unclosed <{tree.current.tag}>"
    return tree


def check_document(html: str) -> Node:
    """The shared layout, and nothing the CSP would block: returns the root."""
    assert html.lower().startswith("<!doctype html>")
    tree = parse(html)
    root = tree.root
    links = root.all("link", rel="stylesheet")
    assert [link.attrs["href"] for link in links] == ["/static/board.css"]
    scripts = root.all("script")
    assert [s.attrs.get("src") for s in scripts] == ["/static/board.js"]
    assert "defer" in scripts[0].attrs
    assert not "".join(tree.script_bodies).strip(), "inline script"
    assert not root.all("style"), "inline <style>"
    for node in root.all():
        for name, value in node.attrs.items():
            assert name != "style", f"style= on <{node.tag}>"
            assert not name.startswith("on"), f"{name}= on <{node.tag}>"
            assert not value.strip().lower().startswith("javascript:")
    body = root.one("body")
    assert body.attrs["data-live"] == "1"
    nav = {a.attrs["href"]: a.text() for a in root.one("nav", "main").all("a")}
    assert nav == {"/": "Tasks", "/labs": "Labs", "/playbook": "Playbook"}
    main = root.one("main")
    assert main.attrs["id"] == "content"
    return root


def task_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "slug": "add-retry",
        "title": "Retry flaky downloads",
        "status": "merged",
        "record_status": "merged",
        "attempts": 2,
        "attempt_limit": 3,
        "cost_usd": 0.0123,
        "duration_s": 65.2,
        "reviewers": 2,
        "created_at": "2025-01-02T10:00:00+00:00",
        "updated_at": "2025-01-02T10:01:05+00:00",
        "merged_commit": "0123456789abcdef0123456789abcdef01234567",
        "failure": "",
    }
    return row | overrides


def task_detail(**overrides: Any) -> dict[str, Any]:
    detail = task_row() | {
        "base_branch": "main",
        "branch": "forge/add-retry",
        "spec": "# Retry\n\nDownloads retry three times.\n",
        "tests": [{"path": "tests/test_retry.py", "text": "def test_retry():\n    assert True\n"}],
        "holdout_count": 1,
        "diff": (
            "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n"
            "@@ -1,2 +1,2 @@\n context\n-old = 1\n+new = 2\n"
        ),
        "diff_truncated": False,
        "timeline": [
            {
                "kind": "spec",
                "at": "2025-01-02T10:00:00+00:00",
                "status": "passed",
                "detail": "2 locked file(s), 1 held out",
            },
            {
                "kind": "attempt",
                "number": 1,
                "at": "2025-01-02T10:00:10+00:00",
                "status": "failed",
                "outcome": "rejected",
                "summary": "first try",
                "engineer_error": "",
                "gate": {
                    "run": 1,
                    "passed": True,
                    "checks": [
                        {"name": "acceptance", "passed": True, "detail": "3 passed", "items": []},
                        {"name": "lint", "passed": True, "detail": "", "items": []},
                    ],
                },
                "verdicts": [
                    {
                        "reviewer": "reviewer-1",
                        "lens": "correctness",
                        "approve": False,
                        "blockers": [
                            {
                                "title": "Retries forever",
                                "detail": "no upper bound",
                                "counterexample": "download(always_fail)",
                            }
                        ],
                        "notes": "",
                        "problem": "",
                    },
                    {
                        "reviewer": "reviewer-2",
                        "lens": "security",
                        "approve": True,
                        "blockers": [],
                        "notes": "fine",
                        "problem": "",
                    },
                ],
                "merge_detail": "",
            },
            {
                "kind": "attempt",
                "number": 2,
                "at": "2025-01-02T10:00:40+00:00",
                "status": "passed",
                "outcome": "merged",
                "summary": "bounded retries",
                "engineer_error": "",
                "gate": {
                    "run": 2,
                    "passed": False,
                    "checks": [
                        {
                            "name": "holdout",
                            "passed": False,
                            "detail": "1 held-out test(s) failed",
                            "items": ["t1"],
                        }
                    ],
                },
                "verdicts": [],
                "merge_detail": "fast-forward",
            },
            {
                "kind": "merge",
                "at": "2025-01-02T10:01:00+00:00",
                "status": "passed",
                "detail": "merged into main",
            },
            {
                "kind": "playbook",
                "at": "2025-01-02T10:01:05+00:00",
                "status": "passed",
                "detail": "committed",
            },
        ],
        "cost_by_role": {
            "engineer": {"cost_usd": 0.01, "calls": 4, "input_tokens": 1200, "output_tokens": 300},
            "reviewer": {"cost_usd": 0.0023, "calls": 2, "input_tokens": 800, "output_tokens": 90},
        },
        "transcripts": [
            {
                "session": "20250102T100010-engineer-ab12",
                "role": "engineer",
                "events": 12,
                "started_at": "2025-01-02T10:00:10+00:00",
            },
        ],
        "playbook_status": "committed",
        "playbook_commit": "fedcba9876543210",
    }
    return detail | overrides


def lab_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": 0,
            "status": "baseline",
            "kept": True,
            "mean": 10.0,
            "std": 0.2,
            "hypothesis": "",
            "error": "",
            "cost_usd": 0.0,
            "duration_s": 3.0,
            "commit": "aaaa1111",
        },
        {
            "id": 1,
            "status": "kept",
            "kept": True,
            "mean": 8.5,
            "std": 0.1,
            "hypothesis": "cache the parse",
            "error": "",
            "cost_usd": 0.02,
            "duration_s": 40.0,
            "commit": "bbbb2222",
        },
        {
            "id": 2,
            "status": "discarded",
            "kept": False,
            "mean": 9.0,
            "std": 0.3,
            "hypothesis": "unroll",
            "error": "",
            "cost_usd": 0.01,
            "duration_s": 30.0,
            "commit": "",
        },
        {
            "id": 3,
            "status": "crashed",
            "kept": False,
            "mean": None,
            "std": None,
            "hypothesis": "threads",
            "error": "Traceback\nBoom",
            "cost_usd": 0.01,
            "duration_s": 5.0,
            "commit": "",
        },
    ]


def lab_detail(**overrides: Any) -> dict[str, Any]:
    detail = {
        "name": "speed",
        "metric": "seconds",
        "direction": "min",
        "target_branch": "main",
        "locked": True,
        "lock_sha256": "c0ffee" * 10,
        "history": [
            {
                "at": "2025-01-01T00:00:00+00:00",
                "event": "lock",
                "sha256": "c0ffee" * 10,
                "note": "",
            }
        ],
        "baseline": {"commit": "aaaa1111", "mean": 10.0, "std": 0.2},
        "best": {"id": 1, "commit": "bbbb2222", "mean": 8.5, "std": 0.1},
        "experiments": 3,
        "counts": {"baseline": 1, "kept": 1, "discarded": 1, "crashed": 1},
        "spent_usd": 0.04,
        "notes": "Try caching.",
        "critique": "Watch the noise.",
        "rows": lab_rows(),
        "running": False,
    }
    return detail | overrides


# -- tasks -----------------------------------------------------------------------------------


def test_tasks_page_rows_follow_the_contract() -> None:
    rows = [
        task_row(),
        task_row(slug="b", status="building", attempts=1, cost_usd=0.5, duration_s=7),
    ]
    root = check_document(render.tasks_page(rows))
    table = root.by_id("tasks")
    assert table.tag == "table"
    trs = table.all("tr", "task")
    assert [(tr.attrs["data-slug"], tr.attrs["data-status"]) for tr in trs] == [
        ("add-retry", "merged"),
        ("b", "building"),
    ]
    first = trs[0]
    assert first.one("a").attrs["href"] == "/tasks/add-retry"
    status = first.one("td", "status")
    assert status.text() == "merged" and "status-merged" in status.classes
    assert first.one("td", "attempts").text() == "2/3"
    assert first.one("td", "cost").text() == "$0.0123"
    assert first.one("td", "duration").text() == "1m 05s"
    assert first.one("td", "reviewers").text() == "2"
    assert trs[1].one("td", "duration").text() == "7s"
    assert "status-building" in trs[1].one("td", "status").classes


def test_tasks_page_empty_state() -> None:
    root = check_document(render.tasks_page([]))
    table = root.by_id("tasks")
    assert not table.all("tr", "task")
    assert "No tasks yet" in table.one("tr", "empty").text()


@pytest.mark.parametrize(
    ("seconds", "shown"), [(None, "—"), (0.4, "0s"), (59, "59s"), (65, "1m 05s"), (3725, "1h 02m")]
)
def test_durations_are_human(seconds: float | None, shown: str) -> None:
    root = check_document(render.tasks_page([task_row(duration_s=seconds)]))
    assert root.one("td", "duration").text() == shown


def test_task_page_timeline_checks_and_verdicts() -> None:
    root = check_document(render.task_page(task_detail()))
    h1 = root.one("h1").text()
    assert "add-retry" in h1 and "Retry flaky downloads" in h1
    timeline = root.by_id("timeline")
    assert timeline.tag == "ol"
    events = timeline.all("li", "event")
    assert [sorted(e.classes - {"event"}) for e in events] == [
        ["spec", "status-passed"],
        ["attempt", "status-failed"],
        ["attempt", "status-passed"],
        ["merge", "status-passed"],
        ["playbook", "status-passed"],
    ]
    first, second = timeline.all("li", "attempt")
    assert (first.attrs["data-number"], second.attrs["data-number"]) == ("1", "2")
    checks = first.one("ul", "checks").all("li", "check")
    assert [("passed" in c.classes, "failed" in c.classes) for c in checks] == [(True, False)] * 2
    assert "failed" in second.one("li", "check").classes
    verdicts = first.one("ul", "verdicts").all("li", "verdict")
    assert [
        (v.attrs["data-lens"], "approved" in v.classes, "rejected" in v.classes) for v in verdicts
    ] == [
        ("correctness", False, True),
        ("security", True, False),
    ]
    blocker = verdicts[0].one("li", "blocker")
    assert blocker.one("strong", "blocker-title").text() == "Retries forever"
    assert "no upper bound" in blocker.text()
    assert blocker.one("pre").text() == "download(always_fail)"
    assert not second.all("ul", "verdicts")


def test_task_page_sections() -> None:
    root = check_document(render.task_page(task_detail()))
    assert "Downloads retry three times." in root.by_id("spec").one("pre").text()
    tests = root.by_id("tests")
    assert "def test_retry" in tests.one("pre").text()
    assert "1 holdout" in tests.text()
    diff = root.by_id("diff").one("pre", "diff")
    kinds = {
        cls: [s.text().rstrip("\n") for s in diff.all("span", cls)]
        for cls in ("add", "del", "hunk")
    }
    assert kinds == {"add": ["+new = 2"], "del": ["-old = 1"], "hunk": ["@@ -1,2 +1,2 @@"]}
    assert "--- a/app.py" in diff.text() and "+++ b/app.py" not in kinds["add"]
    transcripts = root.by_id("transcripts")
    url = "/api/tasks/add-retry/transcripts/20250102T100010-engineer-ab12"
    assert transcripts.one("a").attrs["href"] == url
    details = transcripts.one("details")
    assert details.attrs["data-session"] == "20250102T100010-engineer-ab12"
    assert details.attrs["data-url"] == url
    cost = root.by_id("cost").one("table")
    roles = [tr.attrs["data-role"] for tr in cost.one("tbody").all("tr")]
    assert roles == ["engineer", "reviewer"]
    total = cost.one("tr", "total")
    assert total.all("td")[-1].text() == "$0.0123"
    assert [td.text() for td in total.all("td")[:3]] == ["6", "2,000", "390"]


def test_task_page_empty_parts() -> None:
    detail = task_detail(
        timeline=[], tests=[], diff="", transcripts=[], cost_by_role={}, holdout_count=0
    )
    root = check_document(render.task_page(detail))
    assert not root.by_id("timeline").all("li")
    assert "No diff yet" in root.by_id("diff").text()
    assert "No sessions yet" in root.by_id("transcripts").text()
    assert "No model calls yet" in root.by_id("cost").text()


def test_attempt_without_gate_and_truncated_diff() -> None:
    attempt = task_detail()["timeline"][1] | {"gate": None, "engineer_error": "engineer stopped"}
    root = check_document(render.task_page(task_detail(timeline=[attempt], diff_truncated=True)))
    item = root.one("li", "attempt")
    assert not item.all("ul", "checks")
    assert "engineer stopped" in item.one("pre", "error").text()
    assert root.by_id("diff").one("p", "truncated")


# -- escaping ----------------------------------------------------------------------------------


def assert_no_injection(root: Node) -> None:
    scripts = root.all("script")
    assert [s.attrs.get("src") for s in scripts] == ["/static/board.js"]
    assert not root.all("img")


def test_hostile_task_values_stay_text() -> None:
    hostile_verdict = {
        "reviewer": EVIL,
        "lens": f'x" onmouseover="alert(1){EVIL}',
        "approve": False,
        "blockers": [{"title": EVIL, "detail": EVIL, "counterexample": EVIL}],
        "notes": EVIL,
        "problem": EVIL,
    }
    attempt = task_detail()["timeline"][1] | {"summary": EVIL, "verdicts": [hostile_verdict]}
    detail = task_detail(
        slug=f'"><img src=x onerror=alert(1)>{EVIL}',
        title=EVIL,
        spec=EVIL,
        diff=f"+{EVIL}\n-{EVIL}\n",
        tests=[{"path": EVIL, "text": EVIL}],
        failure=EVIL,
        status=EVIL,
        timeline=[attempt],
        transcripts=[{"session": f'"{EVIL}', "role": EVIL, "events": EVIL, "started_at": EVIL}],
        cost_by_role={EVIL: {"cost_usd": 0.1, "calls": 1, "input_tokens": 1, "output_tokens": 1}},
    )
    root = check_document(render.task_page(detail))
    assert_no_injection(root)
    assert EVIL in root.one("h1").text()
    assert EVIL in root.by_id("spec").text()
    assert root.one("strong", "blocker-title").text() == EVIL
    assert root.one("li", "verdict").attrs["data-lens"] == hostile_verdict["lens"]
    assert EVIL in root.by_id("diff").one("span", "add").text()
    href = root.by_id("transcripts").one("a").attrs["href"]
    assert href.startswith("/api/tasks/") and "<" not in href and '"' not in href

    rows_page = check_document(render.tasks_page([task_row(slug=EVIL, title=EVIL, status=EVIL)]))
    assert_no_injection(rows_page)
    row = rows_page.one("tr", "task")
    assert row.attrs["data-slug"] == EVIL
    assert row.one("td", "status").text() == EVIL
    assert "<" not in row.one("a").attrs["href"]


def test_hostile_lab_values_stay_text() -> None:
    rows = [{**lab_rows()[1], "id": EVIL, "hypothesis": EVIL, "error": EVIL, "status": EVIL}]
    detail = lab_detail(name=EVIL, metric=EVIL, rows=rows, notes=EVIL, critique=EVIL, best=None)
    root = check_document(render.lab_page(detail))
    assert_no_injection(root)
    tr = root.by_id("experiments").one("tr", "experiment")
    assert tr.attrs["data-id"] == EVIL and EVIL in tr.text()
    assert root.by_id("notes").one("pre").text() == EVIL
    labs = check_document(render.labs_page([{"name": EVIL, "metric": EVIL, "direction": "max"}]))
    assert_no_injection(labs)
    assert labs.one("tr", "lab").attrs["data-name"] == EVIL


def test_hostile_playbook_and_not_found() -> None:
    root = check_document(render.playbook_page(f"# {EVIL}\n\n- {EVIL}\n\n```\n{EVIL}\n```\n{EVIL}"))
    assert_no_injection(root)
    assert root.by_id("playbook").text().count(EVIL) == 4
    missing = check_document(render.not_found(EVIL))
    assert_no_injection(missing)
    assert EVIL in missing.one("p", "message").text()


# -- labs and the playbook ---------------------------------------------------------------------


def test_labs_page() -> None:
    row = {
        "name": "speed",
        "metric": "seconds",
        "direction": "min",
        "locked": True,
        "experiments": 3,
        "best": {"id": 1, "mean": 8.5, "std": 0.1},
        "baseline": {"mean": 10.0, "std": 0.2},
        "spent_usd": 0.04,
        "running": True,
    }
    root = check_document(
        render.labs_page([row, row | {"name": "size", "best": None, "running": False}])
    )
    labs = root.by_id("labs").all("tr", "lab")
    assert [tr.attrs["data-name"] for tr in labs] == ["speed", "size"]
    assert labs[0].one("a").attrs["href"] == "/labs/speed"
    assert labs[0].one("td", "best").text() == "#1 8.5 ± 0.1"
    assert labs[1].one("td", "best").text() == "—"
    assert "running" in labs[0].classes
    assert "No labs yet" in check_document(render.labs_page([])).by_id("labs").text()


def test_lab_page() -> None:
    root = check_document(render.lab_page(lab_detail()))
    chart = root.by_id("lab-chart")
    assert chart.tag == "svg" and "chart" in chart.classes
    table = root.by_id("experiments")
    assert table.tag == "table"
    rows = table.all("tr", "experiment")
    assert [(r.attrs["data-id"], r.attrs["data-status"]) for r in rows] == [
        ("0", "baseline"),
        ("1", "kept"),
        ("2", "discarded"),
        ("3", "crashed"),
    ]
    assert rows[3].one("pre", "error").text() == "Traceback\nBoom"
    assert "8.5" in root.by_id("best").text()
    assert root.by_id("notes").one("pre").text() == "Try caching."
    assert root.by_id("critique").one("pre").text() == "Watch the noise."
    # The chart comes before the table.
    order = [
        n.attrs.get("id") for n in root.all() if n.attrs.get("id") in ("lab-chart", "experiments")
    ]
    assert order == ["lab-chart", "experiments"]


def test_lab_page_without_experiments() -> None:
    root = check_document(render.lab_page(lab_detail(rows=[], best=None, notes="", critique="")))
    assert "no experiments yet" in root.by_id("lab-chart").text()
    assert not root.by_id("experiments").all("tr", "experiment")


def test_playbook_markdown_subset() -> None:
    text = "# Playbook\n\nUse `uv`.\n\n- one\n- **two**\n\n1. first\n\n```\ncode <here>\n```\n"
    article = check_document(render.playbook_page(text)).by_id("playbook")
    assert article.tag == "article"
    assert article.one("h1").text() == "Playbook"
    assert [li.text() for li in article.one("ul").all("li")] == ["one", "two"]
    assert article.one("ul").one("strong").text() == "two"
    assert article.one("ol").one("li").text() == "first"
    assert article.one("pre").text() == "code <here>"
    assert article.one("p").one("code").text() == "uv"
    assert "No playbook yet" in check_document(render.playbook_page("")).by_id("playbook").text()
