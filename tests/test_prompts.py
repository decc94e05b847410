from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pytest

from leanforge.agent.protocol import FINAL_TOOLS, PLAYBOOK_MAX_CHARS
from leanforge.config import Pipeline
from leanforge.errors import ForgeError
from leanforge.prompts import list_prompts, load_prompt, render_prompt

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The built-in lenses, as the config names them by default.
LENSES = Pipeline().lenses


@dataclass(frozen=True)
class _Test:
    path: str
    text: str


#: Each role template with every variable it documents (docs/prompts.md), all of them set.
ROLE_VALUES: dict[str, dict[str, Any]] = {
    "engineer.md.j2": {},
    "engineer.task.md.j2": {
        "slug": "fix-add",
        "title": "Make add add.",
        "spec": "SPEC-TEXT: add returns the sum.",
        "tests": [_Test("tests/test_calc.py", "def test_add():\n    assert add(2, 3) == 5\n")],
        "playbook": "PLAYBOOK-TEXT",
        "history": "HISTORY-TEXT",
        "attempt": 2,
        "max_attempts": 3,
        "test_command": "python -m pytest -q",
        "conflict": "CONFLICT-TEXT",
    },
    "reviewer.md.j2": {"lens_name": "correctness", "lens": "LENS-TEXT"},
    "reviewer.task.md.j2": {
        "slug": "fix-add",
        "title": "Make add add.",
        "spec": "SPEC-TEXT",
        "summary": "SUMMARY-TEXT",
        "attempt": 2,
        "diff": "+DIFF-TEXT",
        "diff_truncated": True,
        "gate": "GATE-TEXT",
        "flags": "FLAGS-TEXT",
    },
    "tech_lead.md.j2": {"max_chars": PLAYBOOK_MAX_CHARS},
    "tech_lead.task.md.j2": {
        "slug": "fix-add",
        "title": "Make add add.",
        "spec": "SPEC-TEXT",
        "playbook": "PLAYBOOK-TEXT",
        "history": "HISTORY-TEXT",
        "summary": "SUMMARY-TEXT",
        "files": ["calc.py", "tests/test_calc.py"],
    },
}
_MISSING = [(name, var) for name, values in ROLE_VALUES.items() for var in values]


def test_playbook_renders_with_its_sections() -> None:
    text = render_prompt("playbook.md.j2", project="acme")

    assert text.startswith("# acme playbook\n")
    for heading in ("Conventions", "How to run the tests", "Pitfalls seen", "Decisions"):
        assert f"\n## {heading}\n" in text
    assert text.endswith("\n")
    assert "{{" not in text and "{%" not in text


def test_playbook_is_listed() -> None:
    assert "playbook.md.j2" in list_prompts()


def test_missing_variable_raises() -> None:
    with pytest.raises(jinja2.UndefinedError, match="project"):
        render_prompt("playbook.md.j2")


@pytest.mark.parametrize(
    "name", ["no-such-prompt.md.j2", "../pyproject.toml", "lenses/../../README.md"]
)
def test_missing_prompt_is_a_forge_error(name: str) -> None:
    with pytest.raises(ForgeError) as caught:
        load_prompt(name)

    message = str(caught.value)
    assert repr(name) in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(ROLE_VALUES))
def test_role_templates_render_every_value_they_are_given(name: str) -> None:
    values = ROLE_VALUES[name]
    text = render_prompt(name, **values)

    assert text.strip() and text.endswith("\n")
    assert "{{" not in text and "{%" not in text
    assert "\n\n\n" not in text
    for value in values.values():
        if isinstance(value, str):
            assert value in text, value
    if name == "engineer.task.md.j2":
        assert "`tests/test_calc.py`" in text and "assert add(2, 3) == 5\n````" in text
        assert "attempt 2 of 3" in text and "`python -m pytest -q`" in text
    if name == "tech_lead.task.md.j2":
        assert "- `calc.py`\n- `tests/test_calc.py`\n" in text


@pytest.mark.parametrize(("name", "missing"), _MISSING)
def test_role_templates_fail_on_a_missing_variable(name: str, missing: str) -> None:
    values = {k: v for k, v in ROLE_VALUES[name].items() if k != missing}
    with pytest.raises(jinja2.UndefinedError, match=missing):
        render_prompt(name, **values)


@pytest.mark.parametrize(
    ("name", "empty"),
    [
        ("engineer.task.md.j2", {"playbook": "", "history": "", "conflict": "", "tests": []}),
        ("reviewer.task.md.j2", {"summary": "", "diff": "", "diff_truncated": False, "flags": ""}),
        ("tech_lead.task.md.j2", {"playbook": "", "history": "", "summary": "", "files": []}),
    ],
)
def test_task_messages_say_so_when_optional_parts_are_empty(
    name: str, empty: dict[str, Any]
) -> None:
    text = render_prompt(name, **{**ROLE_VALUES[name], **empty})

    assert "\n\n\n" not in text
    for key in empty:
        value = ROLE_VALUES[name][key]
        if isinstance(value, str):
            assert value not in text, key
    if name == "engineer.task.md.j2":
        assert "no playbook yet" in text and "first attempt" in text
        assert "merge conflict" not in text
    if name == "reviewer.task.md.j2":
        assert "diff is empty" in text and "was cut" not in text


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("engineer.md.j2", "engineer"),
        ("reviewer.md.j2", "reviewer"),
        ("tech_lead.md.j2", "tech_lead"),
    ],
)
def test_system_prompts_name_their_final_tool(name: str, role: str) -> None:
    text = render_prompt(name, **ROLE_VALUES[name])
    assert f"`{FINAL_TOOLS[role][0]}`" in text
    assert "`str_replace_based_edit_tool`" in text and "`bash`" in text


@pytest.mark.parametrize("lens", [*LENSES, "my-own-lens"])
def test_the_reviewer_system_prompt_names_its_lens_on_a_line_of_its_own(lens: str) -> None:
    text = render_prompt("reviewer.md.j2", lens_name=lens, lens="LENS-TEXT")

    assert f"\nLens: {lens}\n" in text
    assert [line for line in text.splitlines() if line.startswith("Lens:")] == [f"Lens: {lens}"]
    assert text.rstrip().endswith("LENS-TEXT")


@pytest.mark.parametrize("name", ["engineer.md.j2", "tech_lead.md.j2"])
def test_other_system_prompts_name_no_lens(name: str) -> None:
    text = render_prompt(name, **ROLE_VALUES[name])
    assert not any(line.startswith("Lens:") for line in text.splitlines())


def test_the_tech_lead_is_told_the_length_limit() -> None:
    text = render_prompt("tech_lead.md.j2", max_chars=PLAYBOOK_MAX_CHARS)
    assert f"under {PLAYBOOK_MAX_CHARS} characters" in text
    for heading in ("Conventions", "How to run the tests", "Pitfalls seen", "Decisions"):
        assert f"`## {heading}`" in text


@pytest.mark.parametrize("lens", LENSES)
def test_each_built_in_lens_renders_non_empty(lens: str) -> None:
    assert f"lenses/{lens}.md.j2" in list_prompts()
    text = render_prompt(f"lenses/{lens}.md.j2")

    assert 10 <= len(text.strip().splitlines()) <= 25
    assert "Blocker" in text and "Note only" in text


def test_the_built_in_lenses_are_exactly_the_six() -> None:
    found = {p for p in list_prompts() if p.startswith("lenses/")}
    assert found == {f"lenses/{lens}.md.j2" for lens in LENSES}


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        pytest.fail(
            f"{argv} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc  # type: ignore[no-any-return]


def test_installed_wheel_ships_the_prompts(tmp_path: Path) -> None:
    """The prompts reach users only through the wheel's force-include; check a real install."""
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "PIP_NO_INPUT": "1",
    }
    env.pop("PYTHONPATH", None)
    dist = tmp_path / "dist"
    pip_wheel = ["pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    _run([sys.executable, "-m", *pip_wheel, "-w", str(dist), str(REPO_ROOT)], env=env)
    (wheel,) = dist.glob("leanforge-*.whl")

    # No pip of its own: the venv borrows pip and the dependencies from the environment running
    # this test. --system-site-packages alone reaches only the *base* interpreter's, which lacks
    # them when the suite runs from a virtualenv, so the running one's are added by a .pth file;
    # both come after the venv's own site-packages, so the installed wheel wins the import.
    venv_dir = tmp_path / "venv"
    venv.create(venv_dir, system_site_packages=True, with_pip=False)
    scheme = {"base": str(venv_dir), "platbase": str(venv_dir)}
    site_packages = Path(sysconfig.get_path("purelib", scheme="venv", vars=scheme))
    outer = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "_outer_env.pth").write_text("".join(f"{path}\n" for path in outer))
    python = venv_dir / "bin" / "python"
    _run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], env=env
    )

    check = textwrap.dedent(
        """
        import sys
        from pathlib import Path

        import leanforge
        from leanforge.prompts import load_prompt, render_prompt

        venv, source = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
        here = Path(leanforge.__file__).resolve()
        assert here.is_relative_to(venv), here
        assert not here.is_relative_to(source), here
        template = Path(load_prompt("playbook.md.j2").filename).resolve()
        assert template == here.parent / "prompts" / "playbook.md.j2", template
        text = render_prompt("playbook.md.j2", project="acme")
        assert text.startswith("# acme playbook"), text
        print("ok")
        """
    )
    proc = _run(
        [str(python), "-I", "-c", check, str(venv_dir), str(REPO_ROOT)], cwd=tmp_path, env=env
    )
    assert proc.stdout.strip() == "ok"
