"""Step 1: did the engineer touch the locked tests? Then put the pristine bytes back."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path


def find_tampering(
    pristine: Mapping[str, bytes],
    on_disk: Mapping[str, bytes | None],
    committed: Mapping[str, bytes | None],
) -> list[str]:
    """One reason per locked path whose worktree file or committed blob is not pristine (pure)."""
    reasons = []
    for path, data in sorted(pristine.items()):
        disk = on_disk.get(path)
        if disk is None:
            reasons.append(f"{path} was deleted from the worktree")
        elif disk != data:
            reasons.append(f"{path} was edited in the worktree")
        head = committed.get(path)
        if head is None:
            reasons.append(f"{path} is missing from the branch's last commit")
        elif head != data:
            reasons.append(f"{path} was edited in a commit on the branch")
    return reasons


def read_locked(worktree: Path, paths: list[str]) -> dict[str, bytes | None]:
    """The worktree's bytes at each locked path; a symlink or directory there counts as missing."""
    out: dict[str, bytes | None] = {}
    for path in paths:
        target = worktree / path
        out[path] = (
            target.read_bytes()
            if target.is_file() and not target.is_symlink() and _inside(worktree, target)
            else None
        )
    return out


def _inside(root: Path, target: Path) -> bool:
    return target.resolve().is_relative_to(root.resolve())


def restore(worktree: Path, pristine: Mapping[str, bytes]) -> None:
    """Write the pristine bytes back, replacing whatever (file, symlink, dir) stands in the way.

    Parents are checked component by component so a symlinked ``tests/`` cannot redirect the
    write outside the worktree.
    """
    for path, data in pristine.items():
        current = worktree
        for part in Path(path).parts[:-1]:
            current = current / part
            if current.is_symlink() or (current.exists() and not current.is_dir()):
                current.unlink()
            current.mkdir(exist_ok=True)
        target = current / Path(path).name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
