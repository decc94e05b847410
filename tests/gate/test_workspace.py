"""The gate's own test tree: base test support, the base's pytest options, the gate's ini."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from leanforge.gate import workspace
from leanforge.gate.passes import Runner
from leanforge.gate.workspace import (
    base_pytest_options,
    base_support,
    gate_ini,
    import_paths,
    support_roots,
    write_tree,
)
from leanforge.sandbox.base import RunResult
from leanforge.sandbox.none import NoneExecutor

IDENTITY = ["-c", "user.name=Forge Test", "-c", "user.email=forge@example.invalid"]


def git(*args: str, cwd: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    subprocess.run(["git", *IDENTITY, *args], cwd=cwd, env=env, check=True, capture_output=True)


# --- support_roots ---------------------------------------------------------------------------


def test_a_tests_folder_is_copied_whole() -> None:
    folders, conftests = support_roots(["tests/test_calc.py", "tests/unit/test_more.py"])
    assert folders == {"tests"}
    assert conftests == {"conftest.py", "tests/conftest.py", "tests/unit/conftest.py"}


def test_the_outermost_test_folder_of_a_nested_package() -> None:
    folders, conftests = support_roots(["pkg/tests/unit/test/test_x.py"])
    assert folders == {"pkg/tests"}
    assert conftests == {
        "conftest.py",
        "pkg/conftest.py",
        "pkg/tests/conftest.py",
        "pkg/tests/unit/conftest.py",
        "pkg/tests/unit/test/conftest.py",
    }


def test_a_root_level_test_takes_only_the_root_conftest() -> None:
    assert support_roots(["test_calc.py"]) == (set(), {"conftest.py"})


def test_a_test_beside_the_package_takes_only_the_conftest_chain() -> None:
    # Copying `pkg/` would shadow the engineer's implementation with the base's.
    assert support_roots(["pkg/test_calc.py"]) == (set(), {"conftest.py", "pkg/conftest.py"})


# --- base_support ----------------------------------------------------------------------------


@pytest.fixture
def base_repo(tmp_path: Path) -> tuple[pygit2.Repository, pygit2.Commit, Path]:
    root = tmp_path / "repo"
    files = {
        "conftest.py": "ROOT = True\n",
        "calc.py": "def add(a, b):\n    return a - b\n",
        "pkg/conftest.py": "PKG = True\n",
        "pkg/mod.py": "x = 1\n",
        "tests/conftest.py": "BASE = True\n",
        "tests/helpers.py": "def helper():\n    return 1\n",
        "tests/data/input.txt": "42\n",
        "other/conftest.py": "OTHER = True\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    os.symlink("/etc/hostname", root / "tests" / "link.txt")
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)
    repo = pygit2.Repository(str(root))
    base = repo.head.peel(pygit2.Commit)
    # Work after the base must not leak into the support files.
    (root / "tests" / "conftest.py").write_text("import pytest  # engineer's\n")
    (root / "tests" / "new_helper.py").write_text("y = 2\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "later", cwd=root)
    return repo, base, root


def test_base_support_takes_pristine_test_folders_and_conftests(
    base_repo: tuple[pygit2.Repository, pygit2.Commit, Path],
) -> None:
    repo, base, _ = base_repo
    support = base_support(repo, base, ["tests/test_calc.py"])
    assert support == {
        "conftest.py": b"ROOT = True\n",
        "tests/conftest.py": b"BASE = True\n",
        "tests/helpers.py": b"def helper():\n    return 1\n",
        "tests/data/input.txt": b"42\n",
    }


def test_base_support_for_a_package_test_takes_the_conftest_chain_only(
    base_repo: tuple[pygit2.Repository, pygit2.Commit, Path],
) -> None:
    repo, base, _ = base_repo
    support = base_support(repo, base, ["pkg/test_mod.py"])
    assert support == {"conftest.py": b"ROOT = True\n", "pkg/conftest.py": b"PKG = True\n"}


def test_base_support_when_the_base_has_no_test_folder(
    base_repo: tuple[pygit2.Repository, pygit2.Commit, Path],
) -> None:
    repo, base, _ = base_repo
    assert base_support(repo, base, ["testing/test_new.py"]) == {"conftest.py": b"ROOT = True\n"}


# --- the base's pytest options ---------------------------------------------------------------

PYTEST_INI = b"[pytest]\npython_functions = from_ini\n"
PYPROJECT = b'[tool.pytest.ini_options]\npython_functions = "from_pyproject"\nmarkers = ["a", "b"]\nminversion = 8\n'
TOX = b"[tox]\nenvlist = py311\n[pytest]\npython_functions = from_tox\n"
SETUP_CFG = b"[tool:pytest]\npython_functions = from_setup_cfg\n"
ALL = {
    "pytest.ini": PYTEST_INI,
    "pyproject.toml": PYPROJECT,
    "tox.ini": TOX,
    "setup.cfg": SETUP_CFG,
}


def test_pytest_ini_wins() -> None:
    assert base_pytest_options(ALL) == {"python_functions": "from_ini"}


def test_then_pyproject_with_toml_values_kept() -> None:
    options = base_pytest_options({k: v for k, v in ALL.items() if k != "pytest.ini"})
    assert options == {"python_functions": "from_pyproject", "markers": ["a", "b"], "minversion": 8}


def test_then_tox_then_setup_cfg() -> None:
    assert base_pytest_options({"tox.ini": TOX, "setup.cfg": SETUP_CFG}) == {
        "python_functions": "from_tox"
    }
    assert base_pytest_options({"setup.cfg": SETUP_CFG}) == {"python_functions": "from_setup_cfg"}


def test_files_without_a_pytest_section_are_passed_over() -> None:
    files = {
        "pyproject.toml": b'[project]\nname = "calc"\n',
        "tox.ini": b"[tox]\nenvlist = py311\n",
        "setup.cfg": SETUP_CFG,
    }
    assert base_pytest_options(files) == {"python_functions": "from_setup_cfg"}
    assert base_pytest_options({}) == {}


@pytest.mark.parametrize("empty", [b"", b"# nothing\n", b"[other]\nx = 1\n"])
def test_an_empty_pytest_ini_still_wins(empty: bytes) -> None:
    assert base_pytest_options({**ALL, "pytest.ini": empty}) == {}


@pytest.mark.parametrize(
    ("name", "broken"),
    [("pyproject.toml", b"[tool.pytest.ini_options\n"), ("tox.ini", b"[pytest\n")],
)
def test_a_broken_config_file_stops_the_search(name: str, broken: bytes) -> None:
    # pytest refuses a config file it cannot parse rather than falling through to the next one.
    assert base_pytest_options({name: broken, "setup.cfg": SETUP_CFG}) == {}


@pytest.mark.parametrize(
    "files",
    [
        {"pytest.toml": b'[pytest]\npython_functions = ["check"]\n', "pytest.ini": PYTEST_INI},
        {".pytest.toml": b'[pytest]\npython_functions = ["check"]\n', "setup.cfg": SETUP_CFG},
        {"pyproject.toml": b'[tool.pytest]\npython_functions = ["check"]\n'},
    ],
)
def test_pytest_9_native_toml_config(files: dict[str, bytes]) -> None:
    assert workspace.test_patterns(base_pytest_options(files))[0] == ("check",)


def test_an_empty_pytest_toml_still_wins() -> None:
    assert base_pytest_options({"pytest.toml": b"", "pytest.ini": PYTEST_INI}) == {}


def test_native_toml_values_become_ini_lines() -> None:
    options = {"xfail_strict": False, "minversion": 8, "markers": ["slow: slow", "fast"]}
    ini = read_ini(gate_ini({**options, "console_output_style": "classic"}, [Path("/w")]))
    assert ini["minversion"] == "8"
    assert ini["markers"].split("\n") == ["", "slow: slow", "fast"]
    assert ini["console_output_style"] == "classic"
    assert ini["xfail_strict"] == "true"  # the gate's, not the base's


def test_name_patterns_default_to_pytests() -> None:
    assert workspace.test_patterns({}) == (("test",), ("Test",))
    options = {"python_functions": "check_* test", "python_classes": ["Suite", "*Tests"]}
    assert workspace.test_patterns(options) == (("check_*", "test"), ("Suite", "*Tests"))


# --- the gate's ini --------------------------------------------------------------------------


def read_ini(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser["pytest"]


def test_gate_ini_drops_options_that_change_what_runs() -> None:
    options = {
        "addopts": "-p evil -k add",
        "required_plugins": "pytest-evil",
        "testpaths": "elsewhere",
        "cache_dir": "/tmp/cache",
        "confcutdir": "/",
        "xfail_strict": "false",
        "junit_family": "xunit1",
        "pythonpath": "../outside",
        "python_functions": "check_*",
        "markers": "slow: slow tests\nfast: fast tests",
        "filterwarnings": ["error", "ignore::DeprecationWarning"],
    }
    ini = read_ini(gate_ini(options, [Path("/w")]))
    assert set(ini) == {
        "python_functions",
        "markers",
        "filterwarnings",
        "xfail_strict",
        "junit_family",
        "pythonpath",
    }
    assert ini["xfail_strict"] == "true"
    assert ini["junit_family"] == "xunit2"
    assert ini["python_functions"] == "check_*"
    assert ini["markers"].split("\n") == ["", "slow: slow tests", "fast: fast tests"]
    assert ini["filterwarnings"].split("\n") == ["", "error", "ignore::DeprecationWarning"]
    assert ini["pythonpath"].split() == ["/w"]


def run_pytest_with(ini: Path, root: Path, test: str) -> RunResult:
    """Run one probe test under ``ini`` exactly as the gate's pass A would (sandbox aside)."""
    (root / "test_probe.py").write_text(test)
    scratch = root.parent / f"{root.name}-scratch"
    scratch.mkdir(exist_ok=True)
    runner = Runner(
        python=Path(sys.executable),
        executor=NoneExecutor(warn=lambda _: None),
        scratch_root=scratch,
        source_env=os.environ,
    )
    return runner.isolated(root, ini, ["test_probe.py"], worktree=root, timeout=120).run


def test_pythonpath_with_spaces_and_quotes_round_trips_through_pytest(tmp_path: Path) -> None:
    spaced = tmp_path / "my work tree"
    quoted = tmp_path / "it's here"
    for folder, module in ((spaced, "spaced_mod"), (quoted, "quoted_mod")):
        folder.mkdir()
        (folder / f"{module}.py").write_text("VALUE = 1\n")
    ini = tmp_path / "gate.ini"
    ini.write_text(gate_ini({}, [spaced, quoted]))
    root = tmp_path / "tree"
    root.mkdir()
    probe = (
        "import sys\n\n"
        "def test_paths():\n"
        f"    assert {str(spaced)!r} in sys.path\n"
        f"    assert {str(quoted)!r} in sys.path\n"
        "    import spaced_mod, quoted_mod\n"
        "    assert spaced_mod.VALUE == quoted_mod.VALUE == 1\n"
    )
    result = run_pytest_with(ini, root, probe)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gate_ini_forces_strict_xfail_in_a_real_run(tmp_path: Path) -> None:
    ini = tmp_path / "gate.ini"
    ini.write_text(gate_ini({"xfail_strict": "false", "addopts": "-k nothing"}, [tmp_path]))
    root = tmp_path / "tree"
    root.mkdir()
    probe = "import pytest\n\n@pytest.mark.xfail\ndef test_x():\n    pass\n"
    result = run_pytest_with(ini, root, probe)
    assert result.returncode == 1, result.stdout
    assert "XPASS(strict)" in result.stdout


# --- import paths ----------------------------------------------------------------------------


def test_the_worktree_alone_by_default(tmp_path: Path) -> None:
    assert import_paths(tmp_path, {}) == [tmp_path]


def test_src_is_added_when_present(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    assert import_paths(tmp_path, {}) == [tmp_path, tmp_path / "src"]


def test_base_pythonpath_entries_inside_the_worktree(tmp_path: Path) -> None:
    wt = tmp_path.resolve()
    (wt / "lib").mkdir()
    (wt / "src").mkdir()
    assert import_paths(wt, {"pythonpath": "lib 'my dir'"}) == [
        wt,
        wt / "lib",
        wt / "my dir",
        wt / "src",
    ]
    assert import_paths(wt, {"pythonpath": ["lib", "src"]}) == [wt, wt / "lib", wt / "src"]


def test_entries_escaping_the_worktree_are_refused(tmp_path: Path) -> None:
    wt = (tmp_path / "wt").resolve()
    wt.mkdir()
    os.symlink(tmp_path, wt / "escape")
    options = {"pythonpath": ["../elsewhere", "/usr/lib/python3", "escape", "lib/../../x"]}
    assert import_paths(wt, options) == [wt]


def test_write_tree_writes_bytes_and_text(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/b/c.py": "x = 1\n", "d.bin": b"\x00\x01"})
    assert (tmp_path / "a" / "b" / "c.py").read_text() == "x = 1\n"
    assert (tmp_path / "d.bin").read_bytes() == b"\x00\x01"
