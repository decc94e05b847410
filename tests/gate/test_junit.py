"""Reading junit XML, as real pytest runs write it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leanforge.gate import junit
from leanforge.gate.junit import ERROR, FAILED, PASSED, SKIPPED, Case

MIXED = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("setup boom")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown boom")

def test_pass():
    assert True

def test_fail():
    assert 1 == 2, "one is not two"

def test_setup_error(broken):
    pass

def test_teardown_error(bad_teardown):
    pass

def test_skip():
    pytest.skip("not today")

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False

@pytest.mark.xfail(strict=True, reason="must fail")
def test_xpass_strict():
    pass

@pytest.mark.parametrize("a,b", [(1, 2), (3, 3)], ids=["bad", "good"])
def test_param(a, b):
    assert a == b

class TestGroup:
    class TestInner:
        def test_nested(self):
            pass
"""


def run_pytest(root: Path, files: dict[str, str]) -> Path:
    """Run pytest on ``files`` under ``root`` the way the gate does; return the junit path."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    (root / "gate.ini").write_text("[pytest]\n")
    report = root / "junit.xml"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            "-m",
            "pytest",
            "-c",
            str(root / "gate.ini"),
            "--rootdir",
            str(root),
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=xunit2",
            "--continue-on-collection-errors",
            "--junitxml",
            str(report),
            *files,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    return report


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    root = tmp_path_factory.mktemp("junit")
    report = run_pytest(
        root, {"tests/test_mix.py": MIXED, "tests/test_broken.py": "from calc import add\n"}
    )
    cases = junit.read(report)
    assert cases is not None
    return {case.label: case for case in cases}


def outcome(mixed: dict[str, Case], name: str) -> str:
    return mixed[f"tests.test_mix::{name}"].outcome


def test_pass_fail_and_error(mixed: dict[str, Case]) -> None:
    assert outcome(mixed, "test_pass") == PASSED
    assert outcome(mixed, "test_fail") == FAILED
    assert mixed["tests.test_mix::test_fail"].message.startswith("AssertionError: one is not two")
    assert outcome(mixed, "test_setup_error") == ERROR
    assert "setup boom" in mixed["tests.test_mix::test_setup_error"].message


def test_an_error_in_teardown_is_not_a_pass(mixed: dict[str, Case]) -> None:
    reported = [c for c in mixed.values() if c.name == "test_teardown_error"]
    assert reported
    assert any(c.outcome == ERROR for c in reported)


def test_skip_and_xfail_are_skipped(mixed: dict[str, Case]) -> None:
    assert outcome(mixed, "test_skip") == SKIPPED
    assert "not today" in mixed["tests.test_mix::test_skip"].message
    assert outcome(mixed, "test_xfail") == SKIPPED
    assert "known bug" in mixed["tests.test_mix::test_xfail"].message


def test_a_strict_xpass_is_a_failure(mixed: dict[str, Case]) -> None:
    assert outcome(mixed, "test_xpass_strict") == FAILED
    assert "XPASS(strict)" in mixed["tests.test_mix::test_xpass_strict"].message


def test_parametrized_ids_keep_their_function(mixed: dict[str, Case]) -> None:
    bad, good = mixed["tests.test_mix::test_param[bad]"], mixed["tests.test_mix::test_param[good]"]
    assert (bad.function, bad.outcome) == ("test_param", FAILED)
    assert (good.function, good.outcome) == ("test_param", PASSED)


def test_classnames_carry_the_module_path_and_classes(mixed: dict[str, Case]) -> None:
    nested = mixed["tests.test_mix.TestGroup.TestInner::test_nested"]
    assert (nested.classname, nested.name, nested.outcome) == (
        "tests.test_mix.TestGroup.TestInner",
        "test_nested",
        PASSED,
    )


def test_a_collection_error_names_the_module(mixed: dict[str, Case]) -> None:
    broken = mixed["tests.test_broken"]
    assert (broken.classname, broken.outcome) == ("", ERROR)
    assert "No module named 'calc'" in broken.message


def test_every_collected_test_is_reported(mixed: dict[str, Case]) -> None:
    functions = {c.function for c in mixed.values() if c.classname}
    assert functions == {
        "test_pass",
        "test_fail",
        "test_setup_error",
        "test_teardown_error",
        "test_skip",
        "test_xfail",
        "test_xpass_strict",
        "test_param",
        "test_nested",
    }


def test_read_a_missing_report(tmp_path: Path) -> None:
    assert junit.read(tmp_path / "never-written.xml") is None


@pytest.mark.parametrize(
    "garbage",
    ["", "all tests passed!", "<testsuites><testcase", "<html><testcase name='x'/></html>"],
)
def test_read_garbage(tmp_path: Path, garbage: str) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(garbage)
    assert junit.read(path) is None
    with pytest.raises(ValueError):
        junit.parse(garbage)


def test_read_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(b"\xff\xfe\x00<")
    assert junit.read(path) is None


def test_parse_a_bare_testsuite_and_an_empty_one() -> None:
    assert junit.parse("<testsuites/>") == ()
    (case,) = junit.parse(
        '<testsuite><testcase classname="m" name="t"><skipped message="why"/></testcase></testsuite>'
    )
    assert (case.label, case.outcome, case.message) == ("m::t", SKIPPED, "why")


def test_the_worst_outcome_of_a_testcase_wins() -> None:
    (case,) = junit.parse(
        "<testsuites><testcase classname='m' name='t'>"
        "<skipped message='s'/><error message='e'>trace</error><failure message='f'/>"
        "</testcase></testsuites>"
    )
    assert (case.outcome, case.message) == (ERROR, "e\ntrace")


def test_label_without_a_classname() -> None:
    assert Case("", "tests.test_broken", ERROR).label == "tests.test_broken"
