from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import jinja2
import pytest

from leanforge.errors import ForgeError
from leanforge.prompts import list_prompts, load_prompt, render_prompt

REPO_ROOT = Path(__file__).resolve().parents[1]


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
