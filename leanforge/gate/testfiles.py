"""Static facts about locked test files: which tests they define, and their inverted twins.

Pure functions over source text. The expected test ids come from the AST, not from a run, so a
run that silently drops a test (deselect, ``--co``, an early exit) shows up as a missing test.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

DEFAULT_FUNCTIONS = ("test",)
DEFAULT_CLASSES = ("Test",)


@dataclass(frozen=True)
class ExpectedTest:
    path: str  # repo-relative POSIX path of the file
    scope: str  # enclosing test classes, dotted ("" for a module-level function)
    function: str
    invertible: bool  # its inverted twin must fail (see ``invert``)

    @property
    def classname(self) -> str:
        """As junit reports it: the dotted module path plus the class names."""
        return module_name(self.path) + (f".{self.scope}" if self.scope else "")

    @property
    def label(self) -> str:
        parts = [self.path, *(self.scope.split(".") if self.scope else []), self.function]
        return "::".join(parts)


@functools.cache
def module_name(path: str) -> str:
    """The dotted name junit uses for a test file: ``tests/test_x.py`` -> ``tests.test_x``."""
    return ".".join(PurePosixPath(path).with_suffix("").parts)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(name, p) if any(c in p for c in "*?[") else name.startswith(p)
        for p in patterns
    )


def _is_testcase_class(node: ast.ClassDef) -> bool:
    """Does the class look like a unittest.TestCase (pytest collects those whatever their name)?

    Inheritance through a project's own base (``class X(BaseTestCase)``) is only visible by
    name here, so any base whose name ends in ``TestCase`` counts.
    """

    def name(base: ast.expr) -> str:
        return (
            base.id
            if isinstance(base, ast.Name)
            else base.attr
            if isinstance(base, ast.Attribute)
            else ""
        )

    return any(name(b).endswith("TestCase") for b in node.bases)


def _invertible(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True if the body reaches a top-level ``assert`` unless something raises.

    A test with no top-level assert, or one that can return early, might pass honestly with its
    assertions inverted, so it is left out of the inverted canary rather than risk a false alarm.
    """
    if not any(isinstance(stmt, ast.Assert) for stmt in func.body):
        return False
    return not any(isinstance(n, ast.Return | ast.Yield | ast.YieldFrom) for n in ast.walk(func))


def _test_functions(
    tree: ast.Module, functions: Sequence[str], classes: Sequence[str]
) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit_class(node: ast.ClassDef, prefix: str) -> None:
        unittest_style = _is_testcase_class(node)
        if not (unittest_style or _matches(node.name, classes)):
            return
        if not unittest_style and any(
            isinstance(s, ast.FunctionDef) and s.name == "__init__" for s in node.body
        ):
            return  # pytest does not collect classes with __init__
        scope = f"{prefix}.{node.name}" if prefix else node.name
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                if (
                    stmt.name.startswith("test")
                    if unittest_style
                    else _matches(stmt.name, functions)
                ):
                    found.append((scope, stmt))
            elif isinstance(stmt, ast.ClassDef):
                visit_class(stmt, scope)

    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and _matches(
            stmt.name, functions
        ):
            found.append(("", stmt))
        elif isinstance(stmt, ast.ClassDef):
            visit_class(stmt, "")
    return found


def expected_tests(
    path: str,
    source: bytes,
    functions: Sequence[str] = DEFAULT_FUNCTIONS,
    classes: Sequence[str] = DEFAULT_CLASSES,
) -> tuple[ExpectedTest, ...]:
    """The tests ``source`` defines; raises SyntaxError if it does not parse."""
    tree = ast.parse(source, filename=path)
    return tuple(
        ExpectedTest(path=path, scope=scope, function=func.name, invertible=_invertible(func))
        for scope, func in _test_functions(tree, functions, classes)
    )


class _Inverter(ast.NodeTransformer):
    def __init__(self, targets: set[int]) -> None:
        self.targets = targets

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._invert(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._invert(node)

    def _invert(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        if id(node) in self.targets:
            node.body = [
                ast.Assert(test=ast.UnaryOp(op=ast.Not(), operand=s.test), msg=s.msg)
                if isinstance(s, ast.Assert)
                else s
                for s in node.body
            ]
        return node


def invert(
    path: str,
    source: bytes,
    functions: Sequence[str] = DEFAULT_FUNCTIONS,
    classes: Sequence[str] = DEFAULT_CLASSES,
) -> str:
    """The module with every invertible test's top-level ``assert X`` turned into ``assert not (X)``.

    Run under the same node ids as the real tests, each inverted test must fail: if one passes,
    something is forcing outcomes for exactly these tests.
    """
    tree = ast.parse(source, filename=path)
    targets = {
        id(func) for _, func in _test_functions(tree, functions, classes) if _invertible(func)
    }
    return ast.unparse(ast.fix_missing_locations(_Inverter(targets).visit(tree))) + "\n"
