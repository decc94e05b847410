"""The lab chart: markers per status, the best-so-far line, edge cases, escaping, valid XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from leanforge.board.svg import lab_chart

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("id") == "lab-chart" and "chart" in (root.get("class") or "").split()
    assert "style" not in svg
    return root


def row(
    ident: Any, status: str, mean: float | None, hypothesis: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "id": ident,
        "status": status,
        "mean": mean,
        "std": 0.1,
        "hypothesis": hypothesis,
    } | extra


def points(root: ET.Element) -> dict[str, ET.Element]:
    found = {}
    for el in root.iter():
        if "point" in (el.get("class") or "").split():
            found[el.get("data-id") or ""] = el
    return found


def best_ys(root: ET.Element) -> list[float]:
    line = root.find(f"{NS}polyline")
    assert line is not None and line.get("class") == "best"
    ys = [float(p.split(",")[1]) for p in (line.get("points") or "").split()]
    return [y for i, y in enumerate(ys) if i == 0 or y != ys[i - 1]]


def test_markers_per_status() -> None:
    rows = [
        row(0, "baseline", 10.0),
        row(1, "kept", 8.0, "cache"),
        row(2, "discarded", 9.0),
        row(3, "crashed", None, error="boom"),
        row(4, "rejected", None),
        row(5, "failed", None),
    ]
    marks = points(parse(lab_chart(rows, "min")))
    assert {k: (v.tag.removeprefix(NS), v.get("class")) for k, v in marks.items()} == {
        "0": ("circle", "point baseline"),
        "1": ("circle", "point kept"),
        "2": ("circle", "point discarded"),
        "3": ("path", "point failed"),
        "4": ("path", "point failed"),
        "5": ("path", "point failed"),
    }
    # Kept and baseline are filled, discarded hollow (white).
    assert marks["1"].get("fill") != "#ffffff" and marks["0"].get("fill") != "#ffffff"
    assert marks["2"].get("fill") == "#ffffff"
    # Failed runs sit along the bottom, below every measured point.
    lowest = max(float(marks[k].get("cy") or 0) for k in "012")
    for k in "345":
        d = marks[k].get("d") or ""
        assert (
            min(float(p.split(",")[1]) for p in d.replace("M", " ").replace("L", " ").split())
            > lowest
        )
    title = marks["1"].find(f"{NS}title")
    assert title is not None and title.text == "#1 kept: 8 ± 0.1 — cache"
    failed_title = marks["3"].find(f"{NS}title")
    assert failed_title is not None and failed_title.text == "#3 crashed — boom"


def test_x_follows_id_order() -> None:
    rows = [row(10, "kept", 1.0), row(2, "baseline", 2.0), row(3, "discarded", 3.0)]
    marks = points(parse(lab_chart(rows, "min")))
    xs = [float(marks[k].get("cx") or 0) for k in ("2", "3", "10")]
    assert xs == sorted(xs)


@pytest.mark.parametrize("direction", ["min", "max"])
def test_best_line_moves_only_on_kept_rows(direction: str) -> None:
    better, worse = (5.0, 15.0) if direction == "min" else (15.0, 5.0)
    rows = [
        row(0, "baseline", 10.0),
        row(1, "discarded", better - 3),  # better, but not kept: the line must not move
        row(2, "kept", better),
        row(3, "crashed", None),
        row(4, "kept", worse),  # kept but worse: the best does not get worse
        row(5, "discarded", worse),
    ]
    root = parse(lab_chart(rows, direction))
    marks = points(root)
    assert best_ys(root) == [float(marks["0"].get("cy") or 0), float(marks["2"].get("cy") or 0)]


def test_zero_rows() -> None:
    root = parse(lab_chart([], "min"))
    assert "no experiments yet" in "".join(root.itertext())
    assert not points(root)
    assert root.find(f"{NS}polyline") is None


def test_one_row() -> None:
    root = parse(lab_chart([row(0, "baseline", 3.0)], "max"))
    marks = points(root)
    assert list(marks) == ["0"]
    assert float(marks["0"].get("cx") or 0) > 0
    ticks = [t.text for t in root.iter(f"{NS}text")]
    assert "#0" in ticks and "3" in ticks


def test_all_equal_values() -> None:
    rows = [row(i, "kept" if i else "baseline", 7.0) for i in range(4)]
    root = parse(lab_chart(rows, "min", width=400, height=200))
    assert root.get("viewBox") == "0 0 400 200"
    ys = {float(m.get("cy") or 0) for m in points(root).values()}
    assert len(ys) == 1 and 0 < next(iter(ys)) < 200
    assert len(best_ys(root)) == 1


def test_only_failures() -> None:
    root = parse(lab_chart([row(1, "crashed", None), row(2, "failed", None)], "min"))
    assert {m.get("class") for m in points(root).values()} == {"point failed"}
    assert "no experiment has been measured yet" in "".join(root.itertext())


def test_ticks_show_range_and_ids() -> None:
    rows = [row(1, "baseline", 2.5), row(2, "kept", 1.25), row(9, "discarded", 4.0)]
    texts = [t.text for t in parse(lab_chart(rows, "min")).iter(f"{NS}text")]
    assert {"1.25", "4", "#1", "#9"} <= set(texts)


def test_text_is_escaped() -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    rows = [row(evil, "kept", 1.0, evil), row(2, "crashed", None, error=evil)]
    svg = lab_chart(rows, "min", metric=evil)
    assert "<script" not in svg
    root = parse(svg)
    assert not list(root.iter("script")) and not list(root.iter(f"{NS}script"))
    titles = [t.text or "" for t in root.iter(f"{NS}title")]
    assert sum(evil in t for t in titles) == 3  # the chart's label, the kept point, the crash
    assert evil in points(root)
