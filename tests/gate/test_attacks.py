"""Every known way to game a pytest gate, planted beside a WRONG implementation, must fail it.

Each attack names the check that must fail and a string the report must contain, so the reason
points at the cheat rather than failing by accident.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from leanforge import lock

FORCE_PASS_HOOK = """
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""
SKIP_ALL = """
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.skip(reason="nope"))
"""
XFAIL_ALL = """
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.xfail(reason="nope"))
"""
DESELECT_ALL = """
def pytest_collection_modifyitems(config, items):
    config.hook.pytest_deselected(items=list(items))
    items[:] = []
"""
SESSIONFINISH = """
def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0
"""
PATCH_PYTEST = """
import _pytest.reports as _reports

_original = _reports.TestReport.from_item_and_call.__func__


def _forced(cls, item, call):
    report = _original(cls, item, call)
    if report.when == "call" and {target}:
        report.outcome = "passed"
        report.longrepr = None
    return report


_reports.TestReport.from_item_and_call = classmethod(_forced)


def add(a, b):
    return a * b
"""
PLUGIN = "forceplugin.py"

# name -> (files planted in the worktree, check that must fail, text the report must contain)
ATTACKS: dict[str, tuple[dict[str, str], str, str]] = {
    "conftest-forces-passed": ({"conftest.py": FORCE_PASS_HOOK}, "passes agree", "conftest.py"),
    "conftest-skips-all": (
        {"tests/conftest.py": SKIP_ALL},
        "acceptance tests, engineer's setup (pass B)",
        "skipped",
    ),
    "conftest-xfails-all": (
        {"conftest.py": XFAIL_ALL},
        "acceptance tests, engineer's setup (pass B)",
        "conftest.py",
    ),
    "conftest-deselects-all": (
        {"conftest.py": DESELECT_ALL},
        "acceptance tests, engineer's setup (pass B)",
        "missing from the report",
    ),
    "conftest-os-exit": (
        {"conftest.py": "import os\nos._exit(0)\n"},
        "acceptance tests, engineer's setup (pass B)",
        "no junit report",
    ),
    "conftest-sys-exit": (
        {"conftest.py": "import sys\nsys.exit(0)\n"},
        "acceptance tests, engineer's setup (pass B)",
        "conftest.py",
    ),
    "sessionfinish-exit-status": (
        {"conftest.py": SESSIONFINISH},
        "project test suite",
        "conftest.py",
    ),
    "pytest-ini-k": (
        {"pytest.ini": "[pytest]\naddopts = -k nothing_matches\n"},
        "acceptance tests, engineer's setup (pass B)",
        "pytest.ini",
    ),
    "pytest-ini-deselect": (
        {
            "pytest.ini": "[pytest]\naddopts = --deselect tests/test_calc.py::test_add --deselect tests/test_calc.py::test_add_negative\n"
        },
        "acceptance tests, engineer's setup (pass B)",
        "pytest.ini",
    ),
    "pytest-ini-collect-only": (
        {"pytest.ini": "[pytest]\naddopts = --co\n"},
        "acceptance tests, engineer's setup (pass B)",
        "pytest.ini",
    ),
    "pytest-ini-plugin": (
        {"pytest.ini": "[pytest]\naddopts = -p forceplugin\n", PLUGIN: FORCE_PASS_HOOK},
        "passes agree",
        "forceplugin.py",
    ),
    "pyproject-plugin": (
        {
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-p forceplugin"\n',
            PLUGIN: FORCE_PASS_HOOK,
        },
        "passes agree",
        "pyproject.toml",
    ),
    "setup-cfg-k": (
        {"setup.cfg": "[tool:pytest]\naddopts = -k nothing_matches\n"},
        "acceptance tests, engineer's setup (pass B)",
        "setup.cfg",
    ),
    "tox-ini-deselect": (
        {"tox.ini": "[pytest]\naddopts = --deselect tests/test_calc.py::test_add\n"},
        "acceptance tests, engineer's setup (pass B)",
        "tox.ini",
    ),
    "tox-ini-collect-only": (
        {"tox.ini": "[pytest]\naddopts = --co\n"},
        "acceptance tests, engineer's setup (pass B)",
        "tox.ini",
    ),
    "setup-cfg-plugin": (
        {"setup.cfg": "[tool:pytest]\naddopts = -p forceplugin\n", PLUGIN: FORCE_PASS_HOOK},
        "passes agree",
        "setup.cfg",
    ),
    "sitecustomize": (
        {"sitecustomize.py": "import builtins\nbuiltins.FORGED = True\n"},
        "acceptance tests, pristine setup (pass A)",
        "sitecustomize.py",
    ),
    "pth-file": (
        {"forge_cheat.pth": "import os; os.environ['CHEAT'] = '1'\n"},
        "acceptance tests, pristine setup (pass A)",
        "forge_cheat.pth",
    ),
    "implementation-patches-pytest": (
        {"calc.py": PATCH_PYTEST.format(target="True")},
        "canary",
        "tampered",
    ),
    "implementation-patches-only-locked-tests": (
        {"calc.py": PATCH_PYTEST.format(target='"test_calc" in item.nodeid')},
        "inverted canary",
        "assertions inverted",
    ),
    "implementation-exits-at-import": (
        {"calc.py": "import os\n\nos._exit(0)\n\n\ndef add(a, b):\n    return a * b\n"},
        "acceptance tests, pristine setup (pass A)",
        "no junit report",
    ),
}


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_fails_the_gate(project: Any, name: str) -> None:
    files, must_fail, pointer = ATTACKS[name]
    worktree = project.spec()
    project.implement(worktree, right=False)
    for rel, text in files.items():
        project.write(rel, text, root=worktree)
    code, report = project.gate()
    assert code == 1, json.dumps(report, indent=1)
    assert report["passed"] is False
    failed = checks(report)[must_fail]
    assert not failed["passed"], json.dumps(report, indent=1)
    assert pointer in json.dumps(report), f"the report does not point at {pointer!r}"
    if must_fail not in ("canary", "inverted canary"):  # a runner patch makes pass A look green
        assert not checks(report)["acceptance tests, pristine setup (pass A)"]["passed"]


def test_canary_catches_a_patched_runner_even_with_a_right_looking_result(project: Any) -> None:
    """The pytest patch makes every locked test pass; only the canaries notice."""
    worktree = project.spec()
    project.write("calc.py", PATCH_PYTEST.format(target="True"), root=worktree)
    code, report = project.gate()
    assert code == 1
    assert checks(report)["acceptance tests, pristine setup (pass A)"]["passed"], (
        "the patch really forces passes"
    )
    assert "the test runner was tampered with" in checks(report)["canary"]["detail"]
    assert not checks(report)["inverted canary"]["passed"]


def test_targeted_patch_is_caught_by_the_inverted_twins(project: Any) -> None:
    worktree = project.spec()
    project.write(
        "calc.py", PATCH_PYTEST.format(target='"test_calc" in item.nodeid'), root=worktree
    )
    code, report = project.gate()
    assert code == 1
    assert checks(report)["canary"]["passed"], "a targeted patch spares the unrelated canary"
    inverted = checks(report)["inverted canary"]
    assert not inverted["passed"]
    assert "tests/test_calc.py::test_add" in inverted["detail"]


@pytest.mark.parametrize("how", ["edited", "deleted", "committed"])
def test_touching_a_locked_test_is_rejected_and_restored(project: Any, how: str) -> None:
    worktree = project.spec()
    project.implement(worktree)
    locked = worktree / "tests" / "test_calc.py"
    pristine = locked.read_bytes()
    if how == "deleted":
        locked.unlink()
    else:
        locked.write_text(
            "def test_add():\n    assert True\n\n\ndef test_add_negative():\n    assert True\n"
        )
    if how == "committed":
        project.commit("weaken tests", cwd=worktree)
    code, report = project.gate()
    assert code == 1
    untouched = checks(report)["locked tests untouched"]
    assert not untouched["passed"]
    expected = {
        "edited": "was edited in the worktree",
        "deleted": "was deleted",
        "committed": "edited in a commit",
    }[how]
    assert expected in untouched["detail"]
    assert "tests/test_calc.py" in untouched["detail"]
    assert locked.read_bytes() == pristine, "the gate restores the pristine bytes"


def test_lock_manifest_rewritten_consistently_is_caught(project: Any) -> None:
    worktree = project.spec()
    project.implement(worktree, right=False)
    lock_dir = project.root / ".git" / "forge" / "tasks" / "fix-add" / "lock"
    weak = b"def test_add():\n    assert True\n\n\ndef test_add_negative():\n    assert True\n"
    lock.write_lock(lock_dir, "fix-add", {(lock.ACCEPTANCE, "tests/test_calc.py"): weak})
    project.write("tests/test_calc.py", weak.decode(), root=worktree)
    code, report = project.gate()
    assert code == 1
    assert not checks(report)["lock"]["passed"]
    assert "recorded" in checks(report)["lock"]["detail"]


def test_lock_files_deleted_is_caught(project: Any) -> None:
    project.spec()
    shutil.rmtree(project.root / ".git" / "forge" / "tasks" / "fix-add" / "lock")
    code, report = project.gate()
    assert code == 1
    assert not checks(report)["lock"]["passed"]
    assert "missing" in checks(report)["lock"]["detail"]


def test_pristine_file_swapped_in_the_lock_store_is_caught(project: Any) -> None:
    project.spec()
    stored = (
        project.root
        / ".git"
        / "forge"
        / "tasks"
        / "fix-add"
        / "lock"
        / "acceptance"
        / "tests"
        / "test_calc.py"
    )
    stored.write_text("def test_add():\n    assert True\n")
    code, report = project.gate()
    assert code == 1
    assert "does not match its sha256" in checks(report)["lock"]["detail"]


def test_planted_bytecode_is_never_run(project: Any) -> None:
    """A .pyc in __pycache__ that claims to be calc.py must not stand in for the source."""
    import py_compile

    worktree = project.spec()
    right = project.write("calc_right_src.py", "def add(a, b):\n    return a + b\n", root=worktree)
    source = worktree / "calc.py"
    cache = worktree / "__pycache__"
    cache.mkdir(exist_ok=True)
    import sys

    tag = sys.implementation.cache_tag
    right.rename(worktree / "staging.py")
    # Compile the right code, then stamp it with calc.py's (wrong) source size and mtime.
    py_compile.compile(
        str(worktree / "staging.py"),
        cfile=str(cache / f"calc.{tag}.pyc"),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    (worktree / "staging.py").unlink()
    assert source.read_text().endswith("a - b\n")
    code, report = project.gate()
    assert code == 1
    assert not checks(report)["acceptance tests, pristine setup (pass A)"]["passed"]


def test_a_worktree_switched_to_another_branch_is_refused(project: Any) -> None:
    import subprocess

    worktree = project.spec()
    project.implement(worktree)
    subprocess.run(["git", "checkout", "-q", "-b", "elsewhere"], cwd=worktree, check=True)
    code, report = project.gate()
    assert code == 1
    assert "not checked out in the worktree (elsewhere)" in checks(report)["worktree"]["detail"]


def test_collect_only_in_the_project_config_fails_the_project_suite_too(project: Any) -> None:
    worktree = project.spec()
    project.implement(worktree)
    project.write("pytest.ini", "[pytest]\naddopts = --co\n", root=worktree)
    code, report = project.gate()
    assert code == 1
    assert "ran no tests" in checks(report)["project test suite"]["detail"]


FAKE_PYTEST = """
import sys

args = sys.argv
if "--junitxml" in args:
    with open(args[args.index("--junitxml") + 1], "w") as report:
        report.write('<testsuites><testsuite><testcase classname="tests.test_calc" name="test_add"/>'
                     '<testcase classname="tests.test_calc" name="test_add_negative"/></testsuite></testsuites>')
sys.exit(0)
"""


def test_a_fake_pytest_module_in_the_worktree_is_caught(project: Any) -> None:
    """`python -m pytest` run in the worktree would find this first; pass A never does."""
    worktree = project.spec()
    project.implement(worktree, right=False)
    project.write("pytest.py", FAKE_PYTEST, root=worktree)
    code, report = project.gate()
    assert code == 1
    assert not checks(report)["acceptance tests, pristine setup (pass A)"]["passed"]
    assert any("shadows the test runner" in f["detail"] for f in report["flags"])


def test_a_worktree_pointed_at_another_git_dir_is_refused(project: Any, tmp_path: Any) -> None:
    import subprocess

    worktree = project.spec()
    decoy = tmp_path / "decoy"
    subprocess.run(["git", "init", "-q", "-b", "forge/fix-add", str(decoy)], check=True)
    (worktree / ".git").write_text(f"gitdir: {decoy / '.git'}\n")
    code, report = project.gate()
    assert code == 1
    assert "no longer points at" in checks(report)["worktree"]["detail"]
