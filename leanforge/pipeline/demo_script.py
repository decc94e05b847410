"""The demo's project and its scripted agents: what `forge demo` replays, offline.

The replay is written so the pipeline does its job on screen: the first engineer attempt
fails the gate, the second passes it but a reviewer blocks it with a counterexample, and the
third is approved by all three reviewers, merged, and taught to the playbook.
"""

from __future__ import annotations

from typing import Any

TASK = (
    "Add slugify(text) to textkit: lowercase ASCII letters and digits are kept, every other "
    "run of characters becomes one hyphen, there are no hyphens at the ends, and anything "
    "that is not a str raises TypeError."
)
SLUG = "slugify"

PROJECT: dict[str, str] = {
    "textkit.py": '"""Small text helpers."""\n\n\ndef word_count(text: str) -> int:\n    """How many whitespace-separated words ``text`` has."""\n    return len(text.split())\n',
    "tests/test_textkit.py": 'from textkit import word_count\n\n\ndef test_word_count():\n    assert word_count("a b  c") == 3\n',
    ".gitignore": "__pycache__/\nholdout/\n",
    "README.md": "# textkit\n\nSmall text helpers. Run the tests with `python -m pytest -q`.\n",
}

ACCEPTANCE = "tests/test_slugify.py"
HOLDOUT = "holdout/test_slugify_holdout.py"
ACCEPTANCE_TESTS = """import pytest

from textkit import slugify


def test_words_are_joined_with_hyphens():
    assert slugify("Hello World") == "hello-world"


def test_a_run_of_other_characters_becomes_one_hyphen():
    assert slugify("a  --  b!!c") == "a-b-c"


def test_no_hyphens_at_the_ends():
    assert slugify("  Hello, World!  ") == "hello-world"


def test_text_must_be_a_string():
    with pytest.raises(TypeError):
        slugify(b"bytes")
"""
HOLDOUT_TESTS = """from textkit import slugify


def test_digits_are_kept():
    assert slugify("Version 2.0") == "version-2-0"


def test_empty_text_gives_an_empty_slug():
    assert slugify("") == ""
"""
SPEC = f"""# slugify(text)

{TASK}

## Behaviour

- `slugify("Hello World")` is `"hello-world"`.
- Every run of characters other than `a-z` and `0-9` (after lowercasing) becomes one `-`.
- Leading and trailing hyphens are removed; `slugify("")` is `""`.
- Any argument that is not a `str` (bytes, None, numbers) raises `TypeError`.

## Tests

`{ACCEPTANCE}` (locked) and held-out tests the engineer never sees.
"""

_HEAD = '"""Small text helpers."""\n\nimport re\n\n\ndef word_count(text: str) -> int:\n    """How many whitespace-separated words ``text`` has."""\n    return len(text.split())\n\n\n'
#: Attempt 1: naive, fails the locked tests.
NAIVE = _HEAD + 'def slugify(text: str) -> str:\n    return text.lower().replace(" ", "-")\n'
#: Attempt 2: passes every test, but refuses only bytes: None still fails obscurely.
LOOSE = (
    _HEAD
    + 'def slugify(text: str) -> str:\n    if isinstance(text, bytes):\n        raise TypeError("slugify needs a str")\n'
    + '    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")\n'
)
#: Attempt 3: what the reviewer asked for.
FINAL = (
    _HEAD
    + 'def slugify(text: str) -> str:\n    """A URL-safe slug: lowercase ASCII letters and digits joined by single hyphens."""\n'
    + '    if not isinstance(text, str):\n        raise TypeError(f"slugify needs a str, not {type(text).__name__}")\n'
    + '    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")\n'
)
BLOCKER = {
    "title": "Non-str arguments other than bytes do not raise TypeError",
    "detail": "The spec says anything that is not a str raises TypeError; only bytes is checked.",
    "counterexample": "slugify(None) -> AttributeError: 'NoneType' object has no attribute 'lower' (expected TypeError)",
}
PLAYBOOK = """# textkit playbook

What this team has learned about working in textkit. Engineers read it before each task.

## Conventions

- Helpers live in `textkit.py`, one function each, with a one-line docstring.
- Validate argument types at the top of a public helper and raise `TypeError` naming the type.

## How to run the tests

- `python -m pytest -q` from the repository root; one file: `python -m pytest -q tests/test_slugify.py`.

## Pitfalls seen

- slugify: replacing only spaces is not enough; collapse every run of other characters (gate, attempt 1).
- slugify: checking for `bytes` alone let `None` through; check `isinstance(text, str)` (reviewer, attempt 2).

## Decisions

- slugify keeps ASCII letters and digits only; other characters become hyphens (task slugify).
"""


def _tool(name: str, **input: Any) -> dict[str, Any]:
    return {"name": name, "input": input}


def _editor(**input: Any) -> dict[str, Any]:
    return _tool("str_replace_based_edit_tool", **input)


def _attempt(source: str, summary: str, check: bool) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = [
        {
            "text": "Writing slugify.",
            "tools": [_editor(command="create", path="textkit.py", file_text=source)],
        }
    ]
    if check:
        turns.append(
            {"tools": [_tool("bash", command="python -m pytest -q -p no:cacheprovider tests")]}
        )
    turns.append({"tools": [_tool("submit_work", summary=summary)]})
    return turns


def _verdict(approve: bool, blockers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    notes = "Read the diff, the gate report and textkit.py."
    return {
        "tools": [_tool("submit_verdict", approve=approve, blockers=blockers or [], notes=notes)]
    }


def script() -> dict[str, Any]:
    """The routed script (see ``leanforge.agent.scripted``): one queue per role or lens."""
    return {
        "routes": {
            "spec_writer": [
                {
                    "text": "Reading the project.",
                    "tools": [_tool("bash", command="ls -R . | head -50")],
                },
                {
                    "tools": [
                        _editor(command="create", path=ACCEPTANCE, file_text=ACCEPTANCE_TESTS),
                        _editor(command="create", path=HOLDOUT, file_text=HOLDOUT_TESTS),
                    ]
                },
                {
                    "tools": [
                        _tool(
                            "submit_spec",
                            spec=SPEC,
                            acceptance_tests=[ACCEPTANCE],
                            holdout_tests=[HOLDOUT],
                        )
                    ]
                },
            ],
            "engineer": [
                *_attempt(NAIVE, "slugify lowercases and replaces spaces with hyphens", False),
                *_attempt(LOOSE, "collapse runs of other characters; strip the ends", True),
                *_attempt(FINAL, "every non-str argument raises TypeError", True),
            ],
            "reviewer/correctness": [_verdict(True), _verdict(True)],
            "reviewer/spec-conformance": [_verdict(False, [BLOCKER]), _verdict(True)],
            "reviewer/security": [_verdict(True), _verdict(True)],
            "tech_lead": [{"tools": [_tool("submit_playbook", playbook=PLAYBOOK)]}],
        }
    }
