"""The gate passes honest work and fails wrong work, naming the failing test."""

from __future__ import annotations

import json
from typing import Any


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def test_correct_implementation_passes_beside_the_base_conftest(project: Any) -> None:
    worktree = project.spec()
    project.implement(worktree)
    code, report = project.gate()
    assert code == 0, report
    assert report["passed"] is True
    assert all(c["passed"] for c in report["checks"])
    assert (
        checks(report)["acceptance tests, pristine setup (pass A)"]["detail"] == "2 test(s) passed"
    )
    assert checks(report)["held-out tests"]["detail"] == "1 test(s) passed"
    shown = project.forge_json("show", "fix-add")
    assert shown["status"] == "gated"
    assert shown["gate_runs"] == 1
    assert shown["last_gate_passed"] is True
    saved = project.root / ".git" / "forge" / "tasks" / "fix-add" / "gate" / "0001.json"
    assert saved.is_file()


def test_wrong_implementation_fails_and_names_the_test(project: Any) -> None:
    worktree = project.spec()
    project.implement(worktree, right=False)
    code, report = project.gate()
    assert code == 1
    pass_a = checks(report)["acceptance tests, pristine setup (pass A)"]
    assert not pass_a["passed"]
    assert "tests/test_calc.py::test_add failed" in pass_a["detail"]
    assert not checks(report)["held-out tests"]["passed"]
    assert project.forge_json("show", "fix-add")["status"] == "building"


def test_harmless_engineer_conftest_still_passes(project: Any) -> None:
    worktree = project.spec()
    project.implement(worktree)
    project.write(
        "conftest.py",
        "import pytest\n\n\n@pytest.fixture\ndef extra():\n    return 1\n",
        root=worktree,
    )
    code, report = project.gate()
    assert checks(report)["acceptance tests, pristine setup (pass A)"]["passed"]
    assert code == 0, report
    assert any(f["path"] == "conftest.py" for f in report["flags"]), (
        "reviewers must still see the conftest"
    )


def test_human_text_report_lists_every_check(project: Any) -> None:
    worktree = project.spec()
    project.implement(worktree, right=False)
    result = project.forge("gate", "fix-add")
    assert result.exit_code == 1
    assert "FAILED" in result.stdout
    assert "✗ acceptance tests, pristine setup (pass A)" in result.stdout
    assert "✓ canary" in result.stdout


def test_a_hanging_implementation_times_out_and_fails(project: Any) -> None:
    project.write(
        ".forge/config.toml",
        project.root.joinpath(".forge/config.toml").read_text()
        + "\n[timeouts]\ntest_run = 4.0\nproject_suite = 4.0\n",
    )
    worktree = project.spec()
    project.write(
        "calc.py",
        "import time\n\ntime.sleep(120)\n\n\ndef add(a, b):\n    return a + b\n",
        root=worktree,
    )
    code, report = project.gate()
    assert code == 1
    assert "timed out" in checks(report)["acceptance tests, pristine setup (pass A)"]["detail"]
    assert "timed out" in checks(report)["project test suite"]["detail"]
    assert report["duration_s"] < 60


def test_an_interpreter_without_pytest_is_reported_with_the_fix(
    project: Any, tmp_path: Any
) -> None:
    import subprocess
    import sys

    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    project.write(".forge/config.toml", f'python = "{venv / "bin" / "python"}"\n')
    result = project.forge("spec", "x", "--tests", "tests/test_calc.py")
    assert result.exit_code == 1
    assert "has no pytest" in result.output and "pip install pytest" in result.output
    assert "Traceback" not in result.output


def test_sandbox_none_still_gates_and_warns_on_every_run(project: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("FORGE_SANDBOX", "none")
    worktree = project.spec()
    project.implement(worktree)
    result = project.forge("gate", "fix-add", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["executor"] == "none"
    assert report["warnings"] and "without isolation" in report["warnings"][0]
    assert result.stderr.count("without isolation") >= 3, "one warning per run"
    project.implement(worktree, right=False)
    code, failed = project.gate()
    assert code == 1 and not checks(failed)["acceptance tests, pristine setup (pass A)"]["passed"]


def test_the_canary_has_a_neutral_injectable_name(project: Any, tmp_path: Any) -> None:
    import pygit2

    from leanforge.gate.run import build_gate_tree

    worktree = project.spec()
    repo = pygit2.Repository(str(project.root))
    base = repo.branches.local["main"].peel(pygit2.Commit)
    tests = {"tests/test_calc.py": (worktree / "tests" / "test_calc.py").read_bytes()}
    tree, expected = build_gate_tree(
        repo, base, worktree, tests, tmp_path / "g", token=lambda: "0a1b2c"
    )
    assert tree.canary == "test_0a1b2c"
    assert (tree.a / "test_0a1b2c.py").read_text() == "def test_0a1b2c():\n    assert False\n"
    assert [e.function for e in expected] == ["test_add", "test_add_negative"]
    assert "assert not" in (tree.inverted / "tests" / "test_calc.py").read_text()
