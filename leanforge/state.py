"""Where forge keeps its state: a directory inside the git common dir, never committed.

Layout under ``<git common dir>/forge/``::

    forge.lock                 the one filelock (ref updates, merges, record writes)
    tasks/<slug>/task.json     the task record
    tasks/<slug>/lock/         manifest.json + pristine bytes of locked files
    tasks/<slug>/gate/<n>.json one gate report per run
    tasks/<slug>/transcripts/  one JSONL transcript per agent session

Task worktrees live in ``<git common dir>/forge-worktrees/<slug>``: inside ``.git`` so they are
never committed nor collected by the user's own test runs, and outside the state dir so a sandbox
can show a worktree while hiding the state.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
import pygit2

from leanforge.errors import EmptyRepository, ForgeError, LockBusy, NotARepository

LOCK_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class RepoPaths:
    """The fixed places of one repository that forge works in."""

    workdir: Path
    common_dir: Path

    @property
    def state_dir(self) -> Path:
        return self.common_dir / "forge"

    @property
    def tasks_dir(self) -> Path:
        return self.state_dir / "tasks"

    @property
    def worktrees_dir(self) -> Path:
        return self.common_dir / "forge-worktrees"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "forge.lock"

    def task_dir(self, slug: str) -> Path:
        return self.tasks_dir / slug

    def worktree(self, slug: str) -> Path:
        return self.worktrees_dir / slug


def discover(start: Path, *, allow_empty: bool = False) -> tuple[pygit2.Repository, RepoPaths]:
    """Open the repository containing ``start`` and return it with forge's paths.

    Works from the main checkout or from inside any linked worktree (a forge task worktree
    included): state always resolves to the shared common dir.
    """
    found = pygit2.discover_repository(str(start))
    if found is None:
        raise NotARepository(
            f"{start} is not inside a git repository; run forge from your repo (or `git init` first)"
        )
    repo = pygit2.Repository(found)
    if repo.is_bare:
        raise NotARepository(f"{start} is a bare repository; forge needs a checkout")
    if repo.head_is_unborn and not allow_empty:
        raise EmptyRepository(
            "the repository has no commits yet; make a first commit, then run forge"
        )
    common = Path(repo.path).resolve()
    # A linked worktree's .git dir is <common>/worktrees/<name>; its commondir file points home.
    commondir_file = common / "commondir"
    if commondir_file.is_file():
        common = (common / commondir_file.read_text().strip()).resolve()
    main_repo = pygit2.Repository(str(common))
    workdir = main_repo.workdir
    if workdir is None:
        raise NotARepository(f"{start} belongs to a bare repository; forge needs a checkout")
    return main_repo, RepoPaths(workdir=Path(workdir).resolve(), common_dir=common)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old bytes or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; files in the user's checkout must stay readable
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


#: How long a build or a lab run waits for its lock before deciding another process holds it:
#: `forge board` probes those locks for an instant (:func:`is_held`), and a run started at that
#: instant must not mistake the probe for another run.
PROBE_GRACE_SECONDS = 2.0


def is_held(path: Path) -> bool:
    """Does another process hold the file lock at ``path``? An instant's probe; never creates it."""
    if not path.is_file():
        return False
    lock = filelock.FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    lock.release()
    return False


@contextlib.contextmanager
def held(path: Path, timeout: float, busy: Callable[[], ForgeError]) -> Iterator[None]:
    """Hold the file lock at ``path``, waiting up to ``timeout`` s; raise ``busy()`` if it stays taken.

    Every forge lock goes through here: the repository lock, the merge lock, a task's build
    lock and a lab's locks.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise busy() from None
    try:
        yield
    finally:
        lock.release()


def forge_lock(
    paths: RepoPaths, timeout: float = LOCK_TIMEOUT_SECONDS
) -> contextlib.AbstractContextManager[None]:
    """Hold the repository's single forge lock (ref updates, merges, record writes)."""
    return held(
        paths.lock_path,
        timeout,
        lambda: LockBusy(
            f"another forge command has held {paths.lock_path} for {timeout:.0f}s; wait for it to finish and retry"
        ),
    )
