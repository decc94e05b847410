"""Benchmark: creating a task worktree with forge (pygit2) against `git worktree add`.

Builds a throwaway repository of ``--files`` small files in nested folders, then times both ways
of creating a new branch plus its checked-out worktree, ``--repeat`` times each, alternating which
goes first and removing the worktree between runs. Reports the median of each and the ratio
forge/git (the goal is <= 1.0). Needs git on PATH and leanforge importable
(``python -m pip install -e .``).

    python bench/worktree.py [--files 20000] [--repeat 3] [--dir /dev/shm] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pygit2

from leanforge.git.worktree import create_worktree, delete_branch, remove_worktree
from leanforge.state import discover

FILES_PER_DIR = 100
DIRS_PER_DIR = 10


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True
    )
    return proc.stdout.decode()


def file_path(index: int) -> str:
    """Spread files over two folder levels: d07/s3/f0042.txt."""
    leaf = index // FILES_PER_DIR
    top, sub = divmod(leaf, DIRS_PER_DIR)
    return f"d{top:02d}/s{sub}/f{index % FILES_PER_DIR:04d}.txt"


def file_body(index: int) -> bytes:
    line = f"file {index:06d}: benchmark content for leanforge worktree creation ".encode()
    return (line * 2)[:99] + b"\n"


def make_repo(root: Path, files: int) -> Path:
    """Create a repository whose single commit holds ``files`` files (~100 bytes each)."""
    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    # One fast-import stream is far quicker than writing and adding 20,000 files.
    chunks = [
        b"commit refs/heads/main\n",
        b"committer Bench <bench@example.com> 1700000000 +0000\n",
        b"data 6\nbench\n",
    ]
    for index in range(files):
        body = file_body(index)
        chunks.append(f"M 100644 inline {file_path(index)}\ndata {len(body)}\n".encode())
        chunks.append(body + b"\n")
    chunks.append(b"done\n")
    _git(repo, "fast-import", "--quiet", "--done", stdin=b"".join(chunks))
    return repo


def _count_checkout(path: Path) -> int:
    total = 0
    for _, dirs, names in os.walk(path):
        if ".git" in dirs:
            dirs.remove(".git")
        total += sum(1 for name in names if name != ".git")  # a linked worktree's .git is a file
    return total


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts; "unknown" elsewhere)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    target, best = str(path.resolve()), ("", "unknown")
    for line in mounts:
        fields = line.split()
        point = fields[1]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, fields[2])
    return best[1]


class Runner:
    """Creates and removes one worktree per run, the git way and the forge way."""

    def __init__(self, repo_dir: Path, files: int) -> None:
        self.repo_dir = repo_dir
        self.files = files
        self.repo, self.paths = discover(repo_dir)
        self.start = self.repo.revparse_single("main").peel(pygit2.Commit)
        self.git_root = self.paths.common_dir / "bench-git-worktrees"

    def git_once(self, run: int) -> float:
        name = f"bench-git-{run}"
        path = self.git_root / name
        began = time.perf_counter()
        _git(self.repo_dir, "worktree", "add", "-q", "-b", name, str(path), str(self.start.id))
        elapsed = time.perf_counter() - began
        self._check(path)
        _git(self.repo_dir, "worktree", "remove", "--force", str(path))
        _git(self.repo_dir, "branch", "-q", "-D", name)
        return elapsed

    def forge_once(self, run: int) -> float:
        slug = f"bench-forge-{run}"
        began = time.perf_counter()
        path = create_worktree(self.repo, self.paths, slug, self.start)
        elapsed = time.perf_counter() - began
        self._check(path)
        remove_worktree(self.repo, self.paths, slug)
        delete_branch(self.repo, slug)
        return elapsed

    def _check(self, path: Path) -> None:
        found = _count_checkout(path)
        if found != self.files:
            raise SystemExit(f"{path} holds {found} files, expected {self.files}")


def measure(runner: Runner, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"git": [], "forge": []}
    ways: dict[str, Callable[[int], float]] = {"git": runner.git_once, "forge": runner.forge_once}
    for run in range(repeat):
        order = ("git", "forge") if run % 2 == 0 else ("forge", "git")
        for way in order:
            times[way].append(ways[way](run))
    return times


def summarize(
    files: int, repeat: int, times: dict[str, list[float]], where: Path
) -> dict[str, Any]:
    git_median = statistics.median(times["git"])
    forge_median = statistics.median(times["forge"])
    return {
        "files": files,
        "repeat": repeat,
        "git_seconds": times["git"],
        "forge_seconds": times["forge"],
        "git_median": git_median,
        "forge_median": forge_median,
        "ratio": forge_median / git_median,
        "git": _git(Path.cwd(), "--version").strip(),
        "pygit2": metadata.version("pygit2"),
        "libgit2": pygit2.LIBGIT2_VERSION,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "dir": str(where),
        "filesystem": filesystem_type(where),
    }


def format_table(result: dict[str, Any]) -> str:
    rows = [
        ("git worktree add", result["git_median"], result["git_seconds"]),
        ("forge create_worktree", result["forge_median"], result["forge_seconds"]),
    ]
    lines = [
        f"{result['files']} files, {result['repeat']} runs each ({result['git']}, "
        f"pygit2 {result['pygit2']} / libgit2 {result['libgit2']}, {result['cpus']} cpus, "
        f"{result['filesystem']} at {result['dir']})",
        f"{'':<24}{'median s':>10}  runs",
    ]
    for label, median, runs in rows:
        lines.append(f"{label:<24}{median:>10.3f}  " + " ".join(f"{value:.3f}" for value in runs))
    lines.append(f"{'ratio forge/git':<24}{result['ratio']:>9.2f}x  (goal <= 1.00x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--files", type=int, default=20_000, help="files in the generated repository"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each way")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to build the repository (default: the system temp dir); "
        "a tmpfs such as /dev/shm takes the disk out of the measurement",
    )
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        parser.error("git is not on PATH")
    with tempfile.TemporaryDirectory(prefix="forge-bench-", dir=args.dir) as tmp:
        repo_dir = make_repo(Path(tmp), args.files)
        times = measure(Runner(repo_dir, args.files), args.repeat)
    result = summarize(args.files, args.repeat, times, Path(args.dir or tempfile.gettempdir()))
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
