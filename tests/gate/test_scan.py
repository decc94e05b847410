"""The diff scan: changes to test infrastructure, and suspicious constructs in added code."""

from __future__ import annotations

import pytest

from leanforge.gate.scan import ChangedFile, Finding, added_lines, is_test_file, scan


def kinds(change: ChangedFile) -> list[str]:
    return [f.kind for f in scan([change])]


def added(path: str, text: str) -> ChangedFile:
    return ChangedFile(path, None, text.encode())


def changed(path: str, old: str, new: str) -> ChangedFile:
    return ChangedFile(path, old.encode(), new.encode())


# --- test infrastructure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "verb"),
    [
        (added("tests/conftest.py", "x = 1\n"), "added"),
        (changed("conftest.py", "x = 1\n", "x = 2\n"), "changed"),
        (ChangedFile("pkg/conftest.py", b"x = 1\n", None), "deleted"),
    ],
)
def test_conftest_in_any_state(change: ChangedFile, verb: str) -> None:
    (finding,) = scan([change])
    assert finding == Finding(
        change.path, "test infrastructure", f"conftest.py {verb}: it can change how tests run"
    )


@pytest.mark.parametrize("name", ["pytest.ini", ".pytest.ini"])
def test_any_change_to_a_pytest_ini(name: str) -> None:
    assert kinds(changed(name, "[pytest]\n", "[pytest]\n\n")) == ["test infrastructure"]


def test_pyproject_only_when_the_pytest_section_changes() -> None:
    old = '[project]\nname = "calc"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    other_section = old.replace('name = "calc"', 'name = "calc2"')
    assert kinds(changed("pyproject.toml", old, other_section)) == []
    cheat = old.replace('"-q"', '"-q -p evil"')
    assert kinds(changed("pyproject.toml", old, cheat)) == ["test infrastructure"]
    assert kinds(added("pyproject.toml", '[project]\nname = "calc"\n')) == []
    assert kinds(added("pyproject.toml", old)) == ["test infrastructure"]


@pytest.mark.parametrize(
    ("name", "section", "other"),
    [("setup.cfg", "[tool:pytest]", "[metadata]"), ("tox.ini", "[pytest]", "[tox]")],
)
def test_ini_files_only_when_their_pytest_section_changes(
    name: str, section: str, other: str
) -> None:
    old = f"{other}\nname = calc\n\n{section}\naddopts = -q\n"
    assert kinds(changed(name, old, old.replace("name = calc", "name = calc2"))) == []
    assert kinds(changed(name, old, old.replace("-q", "-q -k add"))) == ["test infrastructure"]
    assert kinds(changed(name, old, old.replace(f"{section}\naddopts = -q\n", ""))) == [
        "test infrastructure"
    ]


def test_pyproject_pytest_options_set_with_dotted_keys() -> None:
    old = '[project]\nname = "calc"\n'
    new = old + '\n[tool]\npytest.ini_options = { addopts = "-p evil" }\n'
    assert kinds(changed("pyproject.toml", old, new)) == ["test infrastructure"]


def test_pytest_toml_is_test_infrastructure() -> None:
    assert kinds(added("pytest.toml", '[pytest]\naddopts = ["-p", "evil"]\n')) == [
        "test infrastructure"
    ]


def test_a_pyproject_whose_tool_is_not_a_table_does_not_crash_the_scan() -> None:
    old = '[project]\nname = "calc"\n'
    assert kinds(changed("pyproject.toml", old, "tool = 1\n")) == ["test infrastructure"]


@pytest.mark.parametrize(
    "path", ["evil.pth", "src/calc.pth", "sitecustomize.py", "pkg/usercustomize.py"]
)
def test_startup_hooks(path: str) -> None:
    findings = scan([added(path, "pass\n")])
    assert [f.kind for f in findings] == ["test infrastructure"]
    assert "runs code when Python starts" in findings[0].detail


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        ".circleci/config.yml",
        "Jenkinsfile",
        "azure-pipelines.yml",
        "noxfile.py",
        ".pre-commit-config.yaml",
    ],
)
def test_ci_files(path: str) -> None:
    assert "ci" in kinds(changed(path, "a: 1\n", "a: 2\n"))


def test_stray_bytecode_outside_pycache_only() -> None:
    assert kinds(ChangedFile("calc.pyc", None, b"\x00")) == ["bytecode"]
    assert kinds(ChangedFile("pkg/calc.pyo", None, b"\x00")) == ["bytecode"]
    assert kinds(ChangedFile("pkg/__pycache__/calc.cpython-311.pyc", None, b"\x00")) == []


@pytest.mark.parametrize("path", [".venv/bin/python", "bin/python3.11", "tools/bin/python"])
def test_interpreters_in_a_bin_folder(path: str) -> None:
    assert kinds(ChangedFile(path, None, b"#!/bin/sh\n")) == ["interpreter"]


def test_forge_settings_but_not_specs() -> None:
    assert kinds(changed(".forge/config.toml", "", "[sandbox]\nmode = 'none'\n")) == [
        "forge settings"
    ]
    assert kinds(added(".forge/PLAYBOOK.md", "cheat\n")) == ["forge settings"]
    assert kinds(added(".forge/specs/fix-add.md", "# spec\n")) == []


def test_ordinary_files_are_not_infrastructure() -> None:
    assert scan([changed("calc.py", "x = 1\n", "x = 2\n"), added("README.md", "hi\n")]) == []


# --- suspicious constructs -------------------------------------------------------------------

CONSTRUCTS = [
    ("def pytest_configure(config): pass", "defines pytest hooks"),
    ("import pytest", "imports pytest"),
    ("from _pytest.runner import runtestprotocol", "imports pytest"),
    ("mod = __import__('pytest')", "imports pytest"),
    ("if 'PYTEST_CURRENT_TEST' in os.environ: pass", "detects the test runner"),
    ("running = sys.modules['pytest']", "detects the test runner"),
    ("frames = inspect.stack()", "inspects the call stack"),
    ("caller = sys._getframe(1)", "inspects the call stack"),
    ("up = frame.f_back", "inspects the call stack"),
    ("import builtins", "patches builtins"),
    ("__builtins__['len'] = fake", "patches builtins"),
    ("os._exit(0)", "exits the process"),
    ("sys.exit(0)", "exits the process"),
    ("os.kill(os.getpid(), 9)", "exits the process"),
    ("import atexit", "registers exit hooks"),
    ("open('report.xml', 'w')", "touches report files"),
    ("args = ['--junitxml', path]", "touches report files"),
    ("status = open('/proc/self/status').read()", "checks process ancestry"),
    ("import psutil", "checks process ancestry"),
    ("parent = os.getppid()", "checks process ancestry"),
    ("sys.settrace(tracer)", "hooks interpreter internals"),
    ("sys.meta_path.insert(0, finder)", "hooks interpreter internals"),
    ("if datetime.now().year > 2030: pass", "depends on date or time"),
    ("if time.time() > deadline: pass", "depends on date or time"),
    ("if date.today().day == 1: pass", "depends on date or time"),
]


@pytest.mark.parametrize(("line", "kind"), CONSTRUCTS)
def test_each_construct_on_an_added_line(line: str, kind: str) -> None:
    old = "def add(a, b):\n    return a + b\n"
    new = old + line + "\n"
    findings = scan([changed("calc.py", old, new)])
    assert kind in [f.kind for f in findings]
    hit = next(f for f in findings if f.kind == kind)
    assert (hit.path, hit.line, hit.detail) == ("calc.py", 3, line)


def test_plain_code_raises_no_construct() -> None:
    new = "import math\n\n\ndef add(a, b):\n    return math.fsum([a, b])\n"
    assert scan([added("calc.py", new)]) == []


def test_pre_existing_lines_are_not_flagged() -> None:
    old = "import atexit\nimport sys\n\ndef add(a, b):\n    sys.exit(1)\n"
    new = "import atexit\nimport sys\n\ndef add(a, b):\n    return a + b\n"
    assert scan([changed("calc.py", old, new)]) == []
    moved_in = new + "\ndef stop():\n    sys.exit(0)\n"
    assert [(f.kind, f.line) for f in scan([changed("calc.py", new, moved_in)])] == [
        ("exits the process", 8)
    ]


def test_comments_are_scanned_too() -> None:
    # Cutting lines at "#" would let a "#" inside a string hide the code after it.
    new = "# we never call sys.exit here\nx = 1  # nor import pytest\n"
    assert [(f.kind, f.line) for f in scan([added("calc.py", new)])] == [
        ("exits the process", 1),
        ("imports pytest", 2),
    ]


def test_a_hash_inside_a_string_does_not_hide_code() -> None:
    assert kinds(added("calc.py", "x = '#'; os._exit(0)\n")) == ["exits the process"]


@pytest.mark.parametrize(
    "path", ["tests/helpers.py", "test_calc.py", "calc_test.py", "pkg/testing/util.py"]
)
def test_test_files_are_scanned_only_for_what_tests_do_not_normally_do(path: str) -> None:
    """Implementation code could import a cheat from a test-named module, so it is scanned."""
    assert scan([added(path, "import pytest\n\ndef pytest_configure(config):\n    pass\n")]) == []
    assert kinds(added(path, "import sys\nsys.exit(0)\n")) == ["exits the process"]


def test_only_python_files_are_scanned_for_constructs() -> None:
    assert scan([added("docs/howto.md", "call sys.exit(0) and import pytest\n")]) == []
    assert scan([ChangedFile("calc.py", b"import atexit\n", None)]) == []  # deleted


def test_added_lines_numbers_new_and_replaced_lines() -> None:
    old = b"a\nb\nc\n"
    new = b"a\nB\nc\nd\n"
    assert added_lines(old, new) == [(2, "B"), (4, "d")]
    assert added_lines(None, b"x\ny\n") == [(1, "x"), (2, "y")]
    assert added_lines(b"x\n", None) == []


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("conftest.py", True),
        ("pkg/conftest.py", True),
        ("test_calc.py", True),
        ("pkg/calc_test.py", True),
        ("tests/helpers.py", True),
        ("pkg/test/data.py", True),
        ("src/pkg/testing/util.py", True),
        ("calc.py", False),
        ("pkg/testing.py", False),
        ("latest/calc.py", False),
        ("pkg/contest.py", False),
        ("pkg/attest_test_data.py", False),
    ],
)
def test_is_test_file(path: str, is_test: bool) -> None:
    assert is_test_file(path) is is_test
