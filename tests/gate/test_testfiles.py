"""Static facts about locked test files: the tests they define and their inverted twins."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from leanforge.gate.testfiles import expected_tests, invert, module_name

PATH = "tests/test_calc.py"


def src(text: str) -> bytes:
    return textwrap.dedent(text).encode()


def ids(source: bytes, **patterns: Any) -> list[tuple[str, str]]:
    return [(e.scope, e.function) for e in expected_tests(PATH, source, **patterns)]


def load(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, PATH, "exec"), namespace)
    return namespace


# --- which tests a file defines --------------------------------------------------------------


def test_module_level_functions_match_the_prefix() -> None:
    source = src(
        """
        def test_add(): assert 1
        def testing_is_a_prefix_match(): pass
        def helper(): pass
        async def test_async(): assert 1
        test_not_a_function = 5
        """
    )
    assert ids(source) == [("", "test_add"), ("", "testing_is_a_prefix_match"), ("", "test_async")]


def test_test_classes_including_nested_ones() -> None:
    source = src(
        """
        class TestCalc:
            def test_a(self): pass
            def helper(self): pass
            class TestInner:
                def test_b(self): pass
                class NotCollected:
                    def test_hidden(self): pass
        class Helper:
            def test_ignored(self): pass
            class TestUnderHelper:
                def test_ignored_too(self): pass
        """
    )
    assert ids(source) == [("TestCalc", "test_a"), ("TestCalc.TestInner", "test_b")]


def test_classes_with_init_are_skipped_like_pytest_does() -> None:
    source = src(
        """
        class TestWithInit:
            def __init__(self): pass
            def test_a(self): pass
        class TestPlain:
            def test_b(self): pass
        """
    )
    assert ids(source) == [("TestPlain", "test_b")]


def test_unittest_testcases_whatever_their_name() -> None:
    source = src(
        """
        import unittest
        from unittest import TestCase
        class CalcChecks(unittest.TestCase):
            def __init__(self, *a): super().__init__(*a)
            def test_a(self): self.assertTrue(True)
            def check_b(self): pass
        class Other(TestCase):
            def test_c(self): pass
        """
    )
    assert ids(source, functions=("check",)) == [("CalcChecks", "test_a"), ("Other", "test_c")]


def test_custom_prefixes_and_globs() -> None:
    source = src(
        """
        def check_add(): pass
        def test_add(): pass
        def add_should_work(): pass
        class CalcSuite:
            def check_inner(self): pass
        class TestCalc:
            def check_ignored(self): pass
        """
    )
    assert ids(source, functions=("check",), classes=("*Suite",)) == [
        ("", "check_add"),
        ("CalcSuite", "check_inner"),
    ]
    assert ids(source, functions=("*_should_*", "test"), classes=("Nothing",)) == [
        ("", "test_add"),
        ("", "add_should_work"),
    ]


def test_labels_and_classnames_match_pytest_and_junit() -> None:
    source = src(
        """
        class TestOuter:
            class TestInner:
                def test_x(self): pass
        def test_y(): pass
        """
    )
    nested, flat = expected_tests("pkg/tests/test_calc.py", source)
    assert nested.label == "pkg/tests/test_calc.py::TestOuter::TestInner::test_x"
    assert nested.classname == "pkg.tests.test_calc.TestOuter.TestInner"
    assert flat.label == "pkg/tests/test_calc.py::test_y"
    assert flat.classname == "pkg.tests.test_calc"
    assert module_name("test_root.py") == "test_root"


def test_a_syntax_error_propagates() -> None:
    with pytest.raises(SyntaxError):
        expected_tests(PATH, b"def test_x(:\n    pass\n")
    with pytest.raises(SyntaxError):
        invert(PATH, b"def test_x(:\n    pass\n")


# --- which tests can be inverted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "invertible"),
    [
        ("assert add(2, 3) == 5", True),
        ("x = 1\n    assert x", True),
        ("pass", False),  # no assert at all
        ("with ctx():\n        assert x", False),  # only a nested assert
        ("if x:\n        assert x", False),
        ("assert x\n    return", False),  # may return early
        ("assert x\n    if y:\n        return None", False),
        ("assert x\n    yield", False),
        ("assert x\n    yield from y", False),
        ("def inner():\n        return 1\n    assert inner()", False),  # conservative
    ],
)
def test_invertible_rules(body: str, invertible: bool) -> None:
    (test,) = expected_tests(PATH, f"def test_x():\n    {body}\n".encode())
    assert test.invertible is invertible


def test_async_and_method_tests_can_be_invertible() -> None:
    source = src(
        """
        async def test_a(): assert True
        class TestC:
            def test_b(self): assert True
        """
    )
    assert all(t.invertible for t in expected_tests(PATH, source))


# --- inverting -------------------------------------------------------------------------------

CALC_TESTS = src(
    """
    def add(a, b):
        return a + b

    def test_add():
        total = add(2, 3)
        assert total == 5, "two and three make five"
        assert total > 0 or total is None

    def test_not_invertible():
        for x in (1, 2):
            assert x > 0

    class TestCalc:
        def test_method(self):
            assert add(1, 1) == 2, "one and one"
    """
)


def test_original_tests_pass() -> None:
    ns = load(CALC_TESTS.decode())
    ns["test_add"]()
    ns["test_not_invertible"]()
    ns["TestCalc"]().test_method()


def test_inverted_assertions_now_fail_with_their_messages() -> None:
    ns = load(invert(PATH, CALC_TESTS))
    calls: list[tuple[Callable[[], None], str]] = [
        (ns["test_add"], "two and three make five"),
        (ns["TestCalc"]().test_method, "one and one"),
    ]
    for call, message in calls:
        with pytest.raises(AssertionError) as caught:
            call()
        assert str(caught.value) == message


def test_inversion_keeps_precedence() -> None:
    # `assert not a or b` would mean `(not a) or b` and still pass: the whole test must be negated.
    ns = load(invert(PATH, b"def test_x():\n    assert False or True\n"))
    with pytest.raises(AssertionError):
        ns["test_x"]()


def test_non_invertible_tests_and_helpers_are_unchanged() -> None:
    ns = load(invert(PATH, CALC_TESTS))
    ns["test_not_invertible"]()  # still passes: its asserts sit in a loop
    assert ns["add"](2, 3) == 5


def test_inverted_source_defines_the_same_tests() -> None:
    inverted = invert(PATH, CALC_TESTS).encode()
    assert expected_tests(PATH, inverted) == expected_tests(PATH, CALC_TESTS)


def test_custom_patterns_decide_what_is_inverted() -> None:
    source = b"def check_x():\n    assert True\n\ndef test_y():\n    assert True\n"
    ns = load(invert(PATH, source, functions=("check",)))
    with pytest.raises(AssertionError):
        ns["check_x"]()
    ns["test_y"]()  # not a test under these patterns, so left alone
