"""Red before green: judged on junit from real pytest runs against a base without the feature."""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

from leanforge.gate.passes import Runner
from leanforge.gate.testfiles import expected_tests
from leanforge.gate.workspace import gate_ini
from leanforge.redgreen import Verdict, judge
from leanforge.sandbox.none import NoneExecutor

BASE_CALC = "def subtract(a, b):\n    return a - b\n"


def run_base(root: Path, tests: dict[str, str], base: dict[str, str] | None = None) -> Verdict:
    """Lay out the base (``calc.py`` without ``add``) plus ``tests``, run pytest, judge the run."""
    files = {"calc.py": BASE_CALC, **(base or {}), **tests}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    ini = root / "gate.ini"
    ini.write_text(gate_ini({}, [root]))
    scratch = root.parent / f"{root.name}-scratch"
    scratch.mkdir(exist_ok=True)
    runner = Runner(
        python=Path(sys.executable),
        executor=NoneExecutor(warn=lambda _: None),
        scratch_root=scratch,
        source_env=os.environ,
    )
    result = runner.isolated(root, ini, list(tests), worktree=root, timeout=120)
    cases = result.cases
    assert cases is not None, result.died
    expected = []
    for rel, text in tests.items():
        # Nothing to expect from a file that does not parse; the run speaks for it.
        with contextlib.suppress(SyntaxError):
            expected += expected_tests(rel, textwrap.dedent(text).encode())
    return judge(cases, expected, list(tests))


def test_a_missing_module_is_red(tmp_path: Path) -> None:
    source = "from calc_v2 import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    assert verdict == Verdict(problems=(), passing=(), red=1)
    assert verdict.ok(allow_passing=False)


def test_a_missing_name_in_an_existing_module_is_red(tmp_path: Path) -> None:
    source = "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    assert verdict == Verdict(problems=(), passing=(), red=1)


def test_failing_in_the_body_is_red(tmp_path: Path) -> None:
    source = """
    import calc

    def test_add():
        assert calc.add(2, 3) == 5

    def test_subtract_rounds():
        assert calc.subtract(0.3, 0.1) == 0.2

    class TestCalc:
        def test_skipped_until_add_exists(self):
            import pytest
            pytest.skip("no add yet")
    """
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    assert verdict == Verdict(problems=(), passing=(), red=3)


def test_a_syntax_error_is_refused(tmp_path: Path) -> None:
    verdict = run_base(tmp_path, {"tests/test_add.py": "def test_add(:\n    assert True\n"})
    (problem,) = verdict.problems
    assert problem.startswith("tests/test_add.py has a syntax error")
    assert "SyntaxError" in problem
    assert not verdict.ok(allow_passing=True)


def test_a_syntax_error_in_the_base_code_is_refused(tmp_path: Path) -> None:
    source = "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    verdict = run_base(tmp_path, {"tests/test_add.py": source}, {"calc.py": "def add(:\n"})
    assert len(verdict.problems) == 1
    assert "syntax error" in verdict.problems[0]
    assert verdict.red == 0


@pytest.mark.parametrize(
    "raising",
    [
        'raise RuntimeError("needs a database")',
        # A missing name earlier in the chain does not make the final error a missing name.
        'try:\n        import calc_db\n    except ImportError:\n        raise RuntimeError("needs a database")',
    ],
)
def test_other_import_time_errors_are_refused(tmp_path: Path, raising: str) -> None:
    source = f"""
    {raising}

    def test_add():
        assert True
    """
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    (problem,) = verdict.problems
    assert "fails at import for a reason other than a missing name" in problem
    assert "RuntimeError: needs a database" in problem
    assert verdict.red == 0 and not verdict.ok(allow_passing=True)


def test_passing_tests_are_listed(tmp_path: Path) -> None:
    source = """
    import calc
    import pytest

    def test_subtract():
        assert calc.subtract(3, 1) == 2

    @pytest.mark.parametrize("a", [1, 2])
    def test_add(a):
        assert calc.add(a, 0) == a

    @pytest.mark.parametrize("a", [1, 5])
    def test_small(a):
        assert a < 3
    """
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    assert verdict.problems == ()
    assert verdict.passing == (
        "tests/test_add.py::test_subtract",
        "tests/test_add.py::test_small[1]",
    )
    assert verdict.red == 3
    assert not verdict.ok(allow_passing=False)
    assert verdict.ok(allow_passing=True)


def test_a_fixture_the_base_lacks_is_refused(tmp_path: Path) -> None:
    source = "def test_add(calculator):\n    assert calculator.add(2, 3) == 5\n"
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    (problem,) = verdict.problems
    assert problem.startswith(
        "tests/test_add.py::test_add uses a fixture the base commit does not provide"
    )
    assert "'calculator'" in problem
    assert verdict.red == 0


def test_a_fixture_from_the_base_conftest_is_fine(tmp_path: Path) -> None:
    conftest = "import pytest\n\n@pytest.fixture\ndef pair():\n    return (2, 3)\n"
    source = "from calc import add\n\ndef test_add(pair):\n    assert add(*pair) == 5\n"
    verdict = run_base(
        tmp_path,
        {"tests/test_add.py": source},
        {"tests/conftest.py": conftest},
    )
    assert verdict == Verdict(problems=(), passing=(), red=1)


def test_a_test_that_is_not_collected_is_refused(tmp_path: Path) -> None:
    source = """
    import calc

    def test_add():
        assert calc.add(2, 3) == 5

    def test_gone():
        assert calc.add(1, 1) == 2

    del test_gone
    """
    verdict = run_base(tmp_path, {"tests/test_add.py": source})
    assert verdict.problems == (
        "tests/test_add.py::test_gone was not collected on the base commit",
    )
    assert verdict.red == 1


def test_one_broken_file_does_not_hide_another(tmp_path: Path) -> None:
    tests = {
        "tests/test_a.py": "from calc import add\n\ndef test_add():\n    assert add(1, 1) == 2\n",
        "tests/test_b.py": "import calc\n\ndef test_sub():\n    assert calc.subtract(2, 1) == 1\n",
    }
    verdict = run_base(tmp_path, tests)
    assert verdict == Verdict(problems=(), passing=("tests/test_b.py::test_sub",), red=1)


@pytest.mark.parametrize(
    ("problems", "passing", "allow", "ok"),
    [
        ((), (), False, True),
        ((), ("t::p",), False, False),
        ((), ("t::p",), True, True),
        (("bad",), (), True, False),
        (("bad",), ("t::p",), True, False),
    ],
)
def test_verdict_ok(
    problems: tuple[str, ...], passing: tuple[str, ...], allow: bool, ok: bool
) -> None:
    assert Verdict(problems=problems, passing=passing, red=1).ok(allow_passing=allow) is ok
