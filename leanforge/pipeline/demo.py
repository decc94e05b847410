"""`forge demo`: a small project in a fresh repository, taken from one sentence to merged code.

Offline by default: the agents replay a script (``demo_script``) through the real pipeline:
real git, the real gate and sandbox, real pytest runs. ``live`` uses the configured model.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pygit2

from leanforge.agent.anthropic_model import client_from_env
from leanforge.config import CONFIG_RELPATH, PLAYBOOK_RELPATH
from leanforge.config_template import render_default_config
from leanforge.context import Forge, open_forge
from leanforge.errors import UsageError
from leanforge.pipeline import demo_script
from leanforge.pipeline.attempts import Attempt, AttemptLog
from leanforge.pipeline.build import BuildResult, build_one
from leanforge.pipeline.job import BuildOptions
from leanforge.pipeline.progress import Reporter
from leanforge.prompts import render_prompt
from leanforge.spec import Progress
from leanforge.spec_agent import AgentSpecRequest, AutoApprove, write_spec

SIGNATURE = pygit2.Signature("forge demo", "demo@leanforge.invalid")


@dataclass(frozen=True)
class DemoRun:
    repo: Path
    live: bool
    result: BuildResult
    attempts: list[Attempt]
    seconds: float


def make_project(root: Path) -> Path:
    """A fresh repository with the demo project committed on ``main``; returns its path."""
    repo_dir = root / "textkit"
    if repo_dir.exists():
        raise UsageError(f"{repo_dir} already exists; pass an empty --dir")
    repo = pygit2.init_repository(str(repo_dir), initial_head="main")
    files = dict(demo_script.PROJECT)
    files[CONFIG_RELPATH.as_posix()] = render_default_config()
    files[PLAYBOOK_RELPATH.as_posix()] = render_prompt("playbook.md.j2", project="textkit")
    for rel, text in files.items():
        path = repo_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    index = repo.index
    index.add_all()
    index.write()
    tree = index.write_tree()
    repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "textkit: word_count\n", tree, [])
    return repo_dir


def open_demo(repo_dir: Path, root: Path, live: bool, env: dict[str, str]) -> Forge:
    """The demo repository's forge: scripted agents unless ``live``; the interpreter is ours."""
    overrides: dict[str, object] = {"python": sys.executable}
    if not live:
        script = root / "demo-script.json"
        script.write_text(json.dumps(demo_script.script(), indent=2), encoding="utf-8")
        overrides["agent"] = {"backend": "scripted", "script": str(script)}
    return open_forge(repo_dir, overrides, env=env)


def run_demo(
    directory: Path | None,
    *,
    live: bool,
    env: dict[str, str],
    progress: Progress,
    reporter: Reporter,
) -> DemoRun:
    """Create the project, spec the task, build it with three reviewers; return where it is."""
    if live:
        client_from_env(env, max_retries=0, timeout=10)  # no key: fail before creating anything
    t0 = time.monotonic()
    if directory is None:
        root = Path(tempfile.mkdtemp(prefix="forge-demo-"))
    else:
        root = directory.resolve()
        root.mkdir(parents=True, exist_ok=True)
    repo_dir = make_project(root)
    progress(f"created the demo project in {repo_dir}")
    forge = open_demo(repo_dir, root, live, env)
    mode = "the configured model" if live else "scripted agents (no model is called)"
    progress(f'forge spec "{demo_script.TASK[:60]}…" with {mode}')
    record = write_spec(
        forge,
        AgentSpecRequest(task=demo_script.TASK, slug=demo_script.SLUG),
        AutoApprove(),
        progress,
    )
    progress(f"locked {', '.join(record.locked_files)} and {record.holdout_count} held-out file(s)")
    progress(f"forge build {record.slug} --reviewers 3")
    result = build_one(forge, record.slug, BuildOptions(reviewers=3), reporter)
    attempts = AttemptLog(forge.store.attempts_dir(record.slug)).all()
    return DemoRun(repo_dir, live, result, attempts, time.monotonic() - t0)
