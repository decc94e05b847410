"""The bubblewrap sandbox, tried from the inside: what a sandboxed engineer can and cannot touch."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from leanforge.sandbox.base import Layout, Mount, RunRequest, scrub_env
from leanforge.sandbox.bwrap import BwrapExecutor, bwrap_argv
from leanforge.sandbox.factory import layout_for
from leanforge.sandbox.none import NoneExecutor
from leanforge.state import RepoPaths

RequestFor = Callable[..., RunRequest]

#: Tries each (operation, path) from inside and reports "ok" (or a listing) or the errno name.
PROBE = """
import errno, json, os, sys
report = {}
for op, path in json.loads(sys.argv[1]):
    try:
        if op == "write":
            with open(path, "a") as handle:
                handle.write("forge probe\\n")
            result = "ok"
        elif op == "read":
            with open(path) as handle:
                handle.read()
            result = "ok"
        else:
            result = sorted(os.listdir(path))
    except OSError as exc:
        result = errno.errorcode[exc.errno]
    report[op + " " + path] = result
print(json.dumps(report))
"""


def probe(
    executor: BwrapExecutor, request_for: RequestFor, ops: list[tuple[str, Path]], **kw: object
) -> dict[str, object]:
    result = executor.run(
        request_for(PROBE, json.dumps([(op, str(path)) for op, path in ops]), **kw)
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def key(op: str, path: Path) -> str:
    return f"{op} {path}"


# -- the command line, as a pure function ------------------------------------------------------


def test_argv_order_and_flags() -> None:
    layout = Layout(
        steps=(("hide", Path("/co")), ("ro", Path("/co/.git")), ("hide", Path("/co/.git/forge")))
    )
    request = RunRequest(
        argv=("python", "-c", "pass"),
        cwd=Path("/wt"),
        env={"PATH": "/usr/bin", "LANG": "C.UTF-8"},
        timeout=1,
        mounts=(Mount(Path("/wt"), writable=True), Mount(Path("/data"))),
    )
    argv = bwrap_argv("/usr/bin/bwrap", layout, request, exists=lambda path: True)
    assert argv == [
        "/usr/bin/bwrap",
        *("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"),
        *("--tmpfs", "/co", "--ro-bind", "/co/.git", "/co/.git", "--tmpfs", "/co/.git/forge"),
        *("--bind", "/wt", "/wt", "--ro-bind", "/data", "/data"),
        *("--remount-ro", "/co", "--remount-ro", "/co/.git/forge"),
        *("--chdir", "/wt", "--unshare-all", "--die-with-parent", "--new-session"),
        *("--cap-drop", "ALL", "--clearenv"),
        *("--setenv", "PATH", "/usr/bin", "--setenv", "LANG", "C.UTF-8"),
        *("--", "python", "-c", "pass"),
    ]


def test_missing_layout_paths_are_skipped_and_covered_hides_stay_writable() -> None:
    layout = Layout(
        steps=(("hide", Path("/gone")), ("ro", Path("/gone2")), ("hide", Path("/wt/sub")))
    )
    request = RunRequest(
        argv=("true",), cwd=Path("/"), env={}, timeout=1, mounts=(Mount(Path("/wt"), True),)
    )
    argv = bwrap_argv(
        "bwrap", layout, request, exists=lambda path: not str(path).startswith("/gone")
    )
    assert "/gone" not in argv and "/gone2" not in argv
    # /wt/sub lies under a later writable mount: remounting it would hit that mount.
    assert "--remount-ro" not in argv


def test_an_unknown_layout_step_is_refused() -> None:
    request = RunRequest(argv=("true",), cwd=Path("/"), env={}, timeout=1)
    with pytest.raises(ValueError, match="unknown layout step"):
        bwrap_argv("bwrap", Layout(steps=(("show", Path("/")),)), request, exists=lambda path: True)


# -- from the inside ----------------------------------------------------------------------------


@pytest.fixture
def host_probe_files() -> Iterator[list[Path]]:
    """Paths a broken sandbox would create on the host; removed afterwards whatever happens."""
    token = secrets.token_hex(4)
    paths = [
        Path(f"/root/forge-probe-{token}"),
        Path(f"/etc/forge-probe-{token}"),
        Path(f"/usr/forge-probe-{token}"),
    ]
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)


class TestFromInside:
    pytestmark = pytest.mark.bwrap

    def test_writes_land_only_in_the_worktree(
        self,
        bwrap_executor: BwrapExecutor,
        request_for: RequestFor,
        repo: RepoPaths,
        worktree: Path,
        host_probe_files: list[Path],
    ) -> None:
        outside = [*host_probe_files, repo.workdir / "README.md", repo.workdir / "new.txt"]
        report = probe(
            bwrap_executor, request_for, [("write", p) for p in [*outside, worktree / "out.txt"]]
        )
        for path in outside:
            # Run as a normal user, /root (mode 700) already refuses the lookup: EACCES.
            assert report[key("write", path)] in {"EROFS", "EACCES"}, path
        assert report[key("write", repo.workdir / "README.md")] == "EROFS"
        assert report[key("write", worktree / "out.txt")] == "ok"
        assert (worktree / "out.txt").read_text() == "forge probe\n"
        assert not any(path.exists() for path in host_probe_files)
        assert (repo.workdir / "README.md").read_text() == "the user's checkout\n"
        assert not (repo.workdir / "new.txt").exists()

    def test_state_other_worktrees_and_checkout_are_invisible(
        self,
        bwrap_executor: BwrapExecutor,
        request_for: RequestFor,
        repo: RepoPaths,
        secret: Path,
        other_worktree: Path,
    ) -> None:
        hidden_files = [secret, other_worktree / "other-work.txt", repo.workdir / "holdout_test.py"]
        ops = [("read", p) for p in hidden_files]
        ops += [("list", repo.state_dir), ("list", repo.worktrees_dir), ("list", repo.workdir)]
        report = probe(bwrap_executor, request_for, ops)
        for path in hidden_files:
            assert report[key("read", path)] == "ENOENT", path
        assert report[key("list", repo.state_dir)] == []
        assert report[key("list", repo.worktrees_dir)] == [
            "task"
        ]  # only the mount point of our own
        assert report[key("list", repo.workdir)] == [
            ".git"
        ]  # only the mount point of the common dir

    def test_git_common_dir_is_readable_not_writable(
        self,
        bwrap_executor: BwrapExecutor,
        request_for: RequestFor,
        repo: RepoPaths,
        worktree: Path,
    ) -> None:
        common = repo.common_dir
        targets = [
            common / "hooks" / "pre-commit",
            common / "config",
            common / "refs" / "heads" / "evil",
        ]
        report = probe(
            bwrap_executor,
            request_for,
            [("write", p) for p in targets] + [("read", common / "HEAD")],
        )
        for path in targets:
            assert report[key("write", path)] == "EROFS", path
        assert report[key("read", common / "HEAD")] == "ok"
        assert not (common / "hooks" / "pre-commit").exists()
        assert not (common / "refs" / "heads" / "evil").exists()
        git_log = "import subprocess, sys; sys.exit(subprocess.run(['git', '-C', sys.argv[1], 'log', '--format=%s']).returncode)"
        result = bwrap_executor.run(request_for(git_log, str(worktree)))
        assert (result.returncode, result.stdout) == (0, "first commit\n"), result.stderr

    def test_read_only_worktree_mount_refuses_writes(
        self, bwrap_executor: BwrapExecutor, request_for: RequestFor, worktree: Path
    ) -> None:
        report = probe(
            bwrap_executor,
            request_for,
            [("write", worktree / "out.txt"), ("read", worktree / "README.md")],
            mounts=(Mount(worktree, writable=False),),
        )
        assert report == {
            key("write", worktree / "out.txt"): "EROFS",
            key("read", worktree / "README.md"): "ok",
        }

    def test_network_is_unreachable(
        self, bwrap_executor: BwrapExecutor, request_for: RequestFor
    ) -> None:
        code = (
            "import socket, sys\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close()\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print('refused', type(exc).__name__)\n"
        )
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = str(server.getsockname()[1])
            control = NoneExecutor(warn=lambda message: None).run(request_for(code, port))
            inside = bwrap_executor.run(request_for(code, port))
        assert control.stdout == "connected\n"  # the server is really there
        assert inside.stdout.startswith("refused"), inside.stdout + inside.stderr

    def test_secrets_and_overrides_do_not_get_in(
        self,
        bwrap_executor: BwrapExecutor,
        request_for: RequestFor,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        planted = {
            "ANTHROPIC_API_KEY": "sk-ant-planted",
            "GITHUB_TOKEN": "ghp_planted",
            "PYTHONPATH": "/evil",
            "PYTEST_ADDOPTS": "-p evil",
        }
        for name, value in planted.items():
            monkeypatch.setenv(name, value)
        env = scrub_env(os.environ)
        result = bwrap_executor.run(
            request_for("import json, os; print(json.dumps(dict(os.environ)))", env=env)
        )
        seen = json.loads(result.stdout)
        assert not set(planted) & set(seen)
        assert not any(value in result.stdout for value in planted.values())
        seen.pop("PWD", None)  # bubblewrap's --chdir exports it
        assert seen == env

    def test_a_venv_inside_the_checkout_still_runs(
        self, repo: RepoPaths, worktree: Path, request_for: RequestFor
    ) -> None:
        venv = repo.workdir / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        executor = BwrapExecutor(layout_for(repo, python))
        code = "import sys; print(sys.prefix); open(sys.argv[1])"
        request = request_for(code, str(repo.workdir / "README.md"))
        result = executor.run(replace(request, argv=(str(python), *request.argv[1:])))
        assert result.stdout == f"{venv}\n"
        assert (
            "FileNotFoundError" in result.stderr
        )  # the venv is shown, the checkout around it is not

    def test_no_capabilities_inside_even_as_root(
        self, bwrap_executor: BwrapExecutor, request_for: RequestFor
    ) -> None:
        # With root's capabilities a command could remount / writable or write host-wide /proc/sys.
        code = "print([line for line in open('/proc/self/status') if line.startswith('CapEff')][0], end='')"
        result = bwrap_executor.run(request_for(code))
        assert result.stdout == "CapEff:\t0000000000000000\n"
