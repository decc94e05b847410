"""Choose the executor for ``sandbox.mode`` and shape the repository's sandbox layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from leanforge.errors import ConfigError, SandboxUnavailable
from leanforge.sandbox.base import Executor, Layout
from leanforge.sandbox.bwrap import BwrapExecutor, bwrap_works
from leanforge.sandbox.none import NoneExecutor
from leanforge.state import RepoPaths

MODES = ("auto", "bwrap", "none")

_INSTALL_HINT = (
    'install bubblewrap (e.g. `apt-get install bubblewrap`) or set sandbox.mode = "none"'
)


def make_executor(
    mode: str,
    layout: Layout,
    warn: Callable[[str], None],
    *,
    bwrap: str = "bwrap",
) -> Executor:
    """The executor for ``mode``: "bwrap" insists on isolation, "auto" falls back to "none" loudly.

    ``bwrap`` names the bubblewrap program (a path or a name looked up on PATH).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown sandbox.mode {mode!r}; use one of: {', '.join(MODES)}")
    if mode == "none":
        return NoneExecutor(warn, reason='sandbox.mode = "none"')
    if bwrap_works(bwrap):
        return BwrapExecutor(layout, bwrap=bwrap)
    if mode == "bwrap":
        raise SandboxUnavailable(f"bubblewrap ({bwrap}) cannot run a sandbox here; {_INSTALL_HINT}")
    return NoneExecutor(warn, reason=f"bubblewrap unavailable; {_INSTALL_HINT}")


#: bwrap mounts a fresh tmpfs here for every run.
SANDBOX_TMP = Path("/tmp")


def layout_for(paths: RepoPaths, python: Path) -> Layout:
    """The sandbox view of one repository: the checkout hidden, git objects and the venv read-only.

    The user's checkout is hidden because held-out tests or other private files may sit in it;
    the common dir inside it comes back read-only so a worktree's git commands can read
    objects and refs; the state dir (the lock, held-out tests) and the task worktrees (other
    tasks' work) inside the common dir are hidden again. A run mounts its own worktree on top.

    ``python`` is the project's interpreter, used as given (not resolved: a virtualenv's
    ``bin/python`` is a symlink out of it). When it lies inside the checkout, its virtualenv
    root, the parent of its ``bin/``, is shown read-only so the interpreter and its packages
    still work.
    """
    workdir = paths.workdir.resolve()
    common = paths.common_dir.resolve()
    steps: list[tuple[str, Path]] = [("hide", workdir), ("ro", common)]
    bin_dir = python.absolute().parent.resolve()
    if bin_dir.is_relative_to(workdir):
        venv = bin_dir.parent
        if workdir.is_relative_to(venv):
            raise SandboxUnavailable(
                f"the interpreter {python} is not in a virtualenv inside the checkout, so showing it "
                f"would show the whole checkout; use one such as {workdir / '.venv'}"
            )
        steps.append(("ro", venv))
    # The sandbox gets an empty /tmp, so an interpreter (or the Python a venv points at)
    # installed under /tmp must be shown again, read-only.
    for root in (bin_dir.parent, python.resolve().parent.parent):
        if not root.is_relative_to(SANDBOX_TMP) or root == SANDBOX_TMP or ("ro", root) in steps:
            continue
        if workdir.is_relative_to(root):
            raise SandboxUnavailable(
                f"the interpreter {python} lives in {root}, which contains the checkout; "
                "install it elsewhere or set `python` to another interpreter"
            )
        steps.append(("ro", root))
    steps += [("hide", paths.state_dir.resolve()), ("hide", paths.worktrees_dir.resolve())]
    return Layout(steps=tuple(steps))
