"""Reviewer lenses: built-in prompts, the user's own .forge/lenses/NAME.md, and the panel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leanforge.config import Config
from leanforge.errors import UsageError
from leanforge.pipeline.lenses import (
    BUILT_IN,
    available,
    cycle,
    lens_names,
    load_lens,
    panel,
    valid_name,
)

BUILT_INS = (
    "correctness",
    "spec-conformance",
    "security",
    "robustness",
    "maintainability",
    "performance",
)


@pytest.fixture
def user_lenses(tmp_path: Path) -> Path:
    """The checkout's (still empty) folder for user lenses."""
    folder = tmp_path / ".forge" / "lenses"
    folder.mkdir(parents=True)
    return folder


# --- names and cycling (pure) ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["correctness", "a", "spec-conformance", "x1-2y", "a" * 40])
def test_valid_names(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "../x", "x/y", "Security", "-x", "x-", "a--b", "x.md", "a b", "a" * 41, "é", "x\n"],
)
def test_invalid_names(name: str) -> None:
    assert not valid_name(name)


def test_lens_names_let_user_files_win_and_skip_other_files() -> None:
    found = lens_names(
        ["playbook.md.j2", "lenses/correctness.md.j2", "lenses/Bad_Name.md.j2", "lenses/x/y.md.j2"],
        ["correctness.md", "mine.md", "notes.txt", "Bad.md", ".md"],
    )
    assert found == {"correctness": ".forge/lenses/correctness.md", "mine": ".forge/lenses/mine.md"}


def test_cycle_takes_names_in_order_and_wraps() -> None:
    assert cycle(["a", "b"], 3) == ["a", "b", "a"]
    assert cycle(["a", "b", "c"], 2) == ["a", "b"]
    assert cycle(["a"], 1) == ["a"]


@pytest.mark.parametrize(("names", "reviewers"), [(["a"], 0), (["a"], -1), ([], 3)])
def test_cycle_refuses_an_empty_panel(names: list[str], reviewers: int) -> None:
    with pytest.raises(UsageError):
        cycle(names, reviewers)


# --- built-in and user lenses ----------------------------------------------------------------


def test_the_six_built_ins_are_available_and_non_empty(tmp_path: Path) -> None:
    found = available(tmp_path)
    for name in BUILT_INS:
        assert found[name] == BUILT_IN
        lens = load_lens(tmp_path, name)
        assert (lens.name, lens.source) == (name, BUILT_IN)
        assert len(lens.text.splitlines()) >= 8
        assert "{{" not in lens.text and "{%" not in lens.text


def test_the_default_config_names_only_built_in_lenses(tmp_path: Path) -> None:
    lenses = Config().pipeline.lenses
    assert lenses == BUILT_INS
    assert [lens.name for lens in panel(tmp_path, lenses, len(lenses))] == list(lenses)


def test_a_user_lens_is_added(tmp_path: Path, user_lenses: Path) -> None:
    (user_lenses / "accessibility.md").write_text("Check {{ braces }} stay as written.\n")

    assert available(tmp_path)["accessibility"] == ".forge/lenses/accessibility.md"
    lens = load_lens(tmp_path, "accessibility")
    assert lens.text == "Check {{ braces }} stay as written."
    assert lens.source == ".forge/lenses/accessibility.md"


def test_a_user_lens_overrides_the_built_in(tmp_path: Path, user_lenses: Path) -> None:
    (user_lenses / "security.md").write_text("Our own security checklist.\n")

    lens = load_lens(tmp_path, "security")
    assert lens.text == "Our own security checklist."
    assert lens.source == ".forge/lenses/security.md"


def test_files_with_invalid_names_are_ignored(tmp_path: Path, user_lenses: Path) -> None:
    (user_lenses / "Loud.md").write_text("x")
    (user_lenses / "ok.txt").write_text("x")
    (user_lenses / "dir.md").mkdir()

    found = available(tmp_path)
    assert set(found) == set(BUILT_INS)


@pytest.mark.parametrize("name", ["../x", "lenses/../../README", "/etc/passwd", "Security", ""])
def test_traversal_and_invalid_names_are_refused(tmp_path: Path, name: str) -> None:
    outside = tmp_path.parent / "x.md"
    outside.write_text("outside\n")
    with pytest.raises(UsageError) as caught:
        load_lens(tmp_path, name)
    message = str(caught.value)
    assert "\n" not in message
    assert "invalid lens name" in message and ".forge/lenses/NAME.md" in message


def test_an_unknown_lens_lists_the_available_ones(tmp_path: Path, user_lenses: Path) -> None:
    (user_lenses / "mine.md").write_text("m\n")
    with pytest.raises(UsageError) as caught:
        load_lens(tmp_path, "typo")
    message = str(caught.value)
    assert "\n" not in message
    assert "no lens named 'typo'" in message
    for name in (*BUILT_INS, "mine"):
        assert name in message
    assert ".forge/lenses/NAME.md" in message


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"", "is empty"), (b"  \n\n", "is empty"), (b"\xff\xfebad", "is not UTF-8")],
)
def test_a_broken_user_lens_says_what_to_fix(
    tmp_path: Path, user_lenses: Path, data: bytes, says: str
) -> None:
    (user_lenses / "mine.md").write_bytes(data)
    with pytest.raises(UsageError, match=f".forge/lenses/mine.md {says}"):
        load_lens(tmp_path, "mine")


def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    folder = repo / ".forge" / "lenses"
    folder.mkdir(parents=True)
    secret = tmp_path / "secret.md"
    secret.write_text("not part of the repo\n")
    os.symlink(secret, folder / "leak.md")

    assert "leak" in available(repo)
    with pytest.raises(UsageError, match="outside the repository"):
        load_lens(repo, "leak")


def test_a_symlink_inside_the_repository_is_followed(tmp_path: Path, user_lenses: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "review.md").write_text("Shared checklist.\n")
    os.symlink(tmp_path / "docs" / "review.md", user_lenses / "shared.md")

    assert load_lens(tmp_path, "shared").text == "Shared checklist."


# --- the panel -------------------------------------------------------------------------------


def test_panel_cycles_through_the_names(tmp_path: Path, user_lenses: Path) -> None:
    (user_lenses / "mine.md").write_text("Mine.\n")

    lenses = panel(tmp_path, ["correctness", "mine"], 3)

    assert [lens.name for lens in lenses] == ["correctness", "mine", "correctness"]
    assert lenses[1].text == "Mine."
    assert lenses[0] == lenses[2]


def test_panel_checks_every_name_even_unused_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no lens named 'typo'"):
        panel(tmp_path, ["correctness", "typo"], 1)


@pytest.mark.parametrize(("names", "reviewers"), [(["correctness"], 0), ((), 2)])
def test_panel_refuses_no_reviewers_or_no_lenses(
    tmp_path: Path, names: tuple[str, ...], reviewers: int
) -> None:
    with pytest.raises(UsageError):
        panel(tmp_path, names, reviewers)
