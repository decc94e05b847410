"""Reviewer lenses: what each reviewer on the panel looks for.

Built-in lenses are packaged prompts (``prompts/lenses/NAME.md.j2``); users add or override them
with plain markdown files ``.forge/lenses/NAME.md`` in their checkout. Lenses are read from the
user's checkout, never from a task worktree, so an engineer cannot soften its own reviewers.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from leanforge.errors import UsageError
from leanforge.prompts import list_prompts, render_prompt

BUILT_IN = "built-in"
USER_DIR = Path(".forge") / "lenses"
LENS_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NAME = 40
_PROMPT = re.compile(r"^lenses/([^/]+)\.md\.j2$")


@dataclass(frozen=True)
class Lens:
    name: str
    text: str
    #: "built-in", or the user file's path relative to the checkout.
    source: str


def valid_name(name: str) -> bool:
    """Is ``name`` lowercase kebab-case and short enough to be a lens?"""
    return len(name) <= MAX_NAME and LENS_NAME.fullmatch(name) is not None


def lens_names(prompts: Iterable[str], user_files: Iterable[str]) -> dict[str, str]:
    """Name -> source from packaged prompt names and user file names; user files win."""
    found: dict[str, str] = {}
    for prompt in prompts:
        match = _PROMPT.match(prompt)
        if match and valid_name(match.group(1)):
            found[match.group(1)] = BUILT_IN
    for file in user_files:
        stem = file.removesuffix(".md")
        if file.endswith(".md") and valid_name(stem):
            found[stem] = (USER_DIR / file).as_posix()
    return dict(sorted(found.items()))


def cycle(names: Sequence[str], reviewers: int) -> list[str]:
    """The lens of each of ``reviewers`` reviewers, taking ``names`` in order and cycling."""
    if reviewers < 1:
        raise UsageError(f"the review panel needs at least 1 reviewer, not {reviewers}")
    if not names:
        raise UsageError("no reviewer lenses given; set pipeline.lenses or pass --lens NAME")
    return list(itertools.islice(itertools.cycle(names), reviewers))


def _unknown(name: str, known: Mapping[str, str]) -> UsageError:
    why = "no lens named" if valid_name(name) else "invalid lens name"
    return UsageError(
        f"{why} {name!r}; available lenses: {', '.join(known) or 'none'}; "
        f"add your own as {USER_DIR.as_posix()}/NAME.md (NAME in lowercase kebab-case)"
    )


def available(workdir: Path) -> dict[str, str]:
    """Every lens a panel may use, name -> source, built-in and the user's own."""
    folder = workdir / USER_DIR
    files = (
        [p.name for p in folder.iterdir() if p.is_file() or p.is_symlink()]
        if folder.is_dir()
        else []
    )
    return lens_names(list_prompts(), files)


def load_lens(workdir: Path, name: str) -> Lens:
    """The lens ``name``: the user's file if there is one, else the built-in."""
    known = available(workdir)
    if not valid_name(name) or name not in known:
        raise _unknown(name, known)
    source = known[name]
    if source == BUILT_IN:
        return Lens(name, render_prompt(f"lenses/{name}.md.j2").strip(), BUILT_IN)
    return Lens(name, _read_user_lens(workdir, source), source)


def _read_user_lens(workdir: Path, source: str) -> str:
    path = workdir / source
    if not path.resolve().is_relative_to(workdir.resolve()):
        raise UsageError(
            f"{source} is a symlink to a file outside the repository; copy the file there instead"
        )
    try:
        text = path.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(
            f"{source} cannot be read ({exc.strerror or exc}); make it a readable file"
        ) from None
    if not text:
        raise UsageError(f"{source} is empty; write what this reviewer should check, or delete it")
    return text


def panel(workdir: Path, names: Sequence[str], reviewers: int) -> list[Lens]:
    """One lens per reviewer, cycling through ``names`` in order (3 over [a, b] is a, b, a)."""
    order = cycle(names, reviewers)
    # Every name is loaded, even one this panel is too small to use, so a typo shows at once.
    loaded = {name: load_lens(workdir, name) for name in dict.fromkeys(names)}
    return [loaded[name] for name in order]
