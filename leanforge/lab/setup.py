"""A lab's definition: ``.forge/labs/NAME/lab.toml``, read, validated and written.

The file is committed, so a team shares its labs. Its ``[lab]`` table is what the lock
covers (the evaluator command, the metric, the direction, the edit scope, the evaluator and
data files, the timeout); its ``[run]`` table holds defaults for ``forge lab run`` that may
change freely between runs.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import shlex
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from leanforge.errors import ConfigError, UsageError
from leanforge.slug import validate as validate_slug

LABS_RELPATH = PurePosixPath(".forge/labs")
DIRECTIONS = ("min", "max")


@dataclass(frozen=True)
class RunDefaults:
    """Defaults for `forge lab run`; flags override them for one run."""

    #: Evaluator runs per experiment; the mean is compared, the spread is the noise.
    repeats: int = 1
    #: Evaluator runs of the starting code, to measure the noise floor (at least 2).
    baseline_repeats: int = 3
    #: A candidate is kept only if it beats the best by more than this many standard deviations.
    noise_k: float = 2.0
    #: ... and by more than this absolute amount of the metric.
    min_delta: float = 0.0
    #: The director writes notes after every this many experiments (0: never).
    director_every: int = 5
    #: The critic reviews the recent experiments after every this many (0: never).
    critic_every: int = 3
    #: Experiments in a row that may try to fix a crashed experiment before starting from the best.
    max_fix_attempts: int = 2
    #: Kept experiments the worker is shown (the best first).
    memory_kept: int = 5
    #: Recent discarded or failed experiments the worker is shown.
    memory_discarded: int = 5


@dataclass(frozen=True)
class LabConfig:
    name: str
    #: The evaluator command, run by bash in the candidate worktree (read-only), in the sandbox.
    eval: str
    #: The metric the lab optimizes, as the evaluator reports it.
    metric: str
    direction: str
    #: Globs (fnmatch, ``*`` crosses ``/``; a folder name covers what is under it) the worker may change.
    edit: tuple[str, ...]
    #: Files the evaluator reads; locked with it.
    data: tuple[str, ...] = ()
    #: The evaluator's own files (its script, its helpers); locked.
    evaluator: tuple[str, ...] = ()
    #: Seconds one evaluator run may take.
    timeout: float = 300.0
    #: The branch the lab starts from and promotes into.
    target: str = "main"
    run: RunDefaults = field(default_factory=RunDefaults)

    @property
    def locked_paths(self) -> tuple[str, ...]:
        return tuple(sorted({*self.evaluator, *self.data}))

    def locked_settings(self) -> bytes:
        """The settings the lock covers, as canonical JSON (their sha256 is part of the lock)."""
        body = {
            "eval": self.eval,
            "metric": self.metric,
            "direction": self.direction,
            "edit": list(self.edit),
            "data": list(self.data),
            "evaluator": list(self.evaluator),
            "timeout": self.timeout,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def lab_dir(workdir: Path, name: str) -> Path:
    return workdir / LABS_RELPATH / name


def check_name(name: str) -> str:
    try:
        return validate_slug(name)
    except UsageError:
        raise UsageError(
            f"lab name {name!r} is not lowercase kebab-case; use letters, digits and dashes, like speed-up"
        ) from None


def clean_path(workdir: Path, raw: str, what: str) -> str:
    """``raw`` as a repo-relative POSIX path inside ``workdir``, or a UsageError."""
    path = Path(raw)
    full = (path if path.is_absolute() else workdir / path).resolve()
    if not full.is_relative_to(workdir) or full == workdir:
        raise UsageError(f"{what} {raw!r} is outside the repository; give a path inside it")
    rel = full.relative_to(workdir).as_posix()
    if rel == ".git" or rel.startswith(".git/"):
        raise UsageError(f"{what} {raw!r} is inside .git; give a path in the project")
    return rel


def files_in_command(workdir: Path, command: str) -> tuple[str, ...]:
    """Repository files the evaluator command names (``python bench/eval.py`` names bench/eval.py)."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"--eval {command!r} does not parse as a shell command: {exc}") from None
    found = []
    for word in words:
        candidate = (workdir / word).resolve() if not Path(word).is_absolute() else Path(word)
        if candidate.is_file() and candidate.is_relative_to(workdir):
            found.append(candidate.relative_to(workdir).as_posix())
    return tuple(sorted(set(found)))


def in_scope(path: str, globs: Iterable[str]) -> bool:
    """May the worker change ``path``? fnmatch globs, and a plain folder name covers its contents."""
    for glob in globs:
        pattern = glob.rstrip("/")
        if fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern + "/"):
            return True
    return False


def validate(config: LabConfig) -> LabConfig:
    check_name(config.name)
    if not config.eval.strip():
        raise ConfigError(f"lab {config.name}: eval is empty; give the evaluator command")
    if not config.metric.strip():
        raise ConfigError(f"lab {config.name}: metric is empty; name the metric to optimize")
    if config.direction not in DIRECTIONS:
        raise ConfigError(
            f"lab {config.name}: direction {config.direction!r} is neither 'min' nor 'max'"
        )
    if not config.edit:
        raise ConfigError(f"lab {config.name}: edit is empty; name what the worker may change")
    if not (math.isfinite(config.timeout) and config.timeout > 0):
        raise ConfigError(f"lab {config.name}: timeout must be a positive number of seconds")
    clash = [p for p in config.locked_paths if in_scope(p, config.edit)]
    if clash:
        raise ConfigError(
            f"lab {config.name}: --edit covers locked file(s) {', '.join(clash)}; "
            "narrow --edit so the worker cannot change the evaluator or its data"
        )
    run = config.run
    if run.repeats < 1 or run.baseline_repeats < 2:
        raise ConfigError(f"lab {config.name}: repeats must be >= 1 and baseline_repeats >= 2")
    return config


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def from_mapping(raw: Mapping[str, Any], where: str) -> LabConfig:
    """Parse a lab.toml document (already loaded)."""
    lab = raw.get("lab")
    if not isinstance(lab, Mapping):
        raise ConfigError(f"{where} has no [lab] table; recreate it with `forge lab init`")
    try:
        run_raw = dict(raw.get("run", {}))
        known = {f.name: f.type for f in dataclasses.fields(RunDefaults)}
        unknown = set(run_raw) - set(known)
        if unknown:
            raise ConfigError(f"{where}: unknown [run] setting(s) {', '.join(sorted(unknown))}")
        run = RunDefaults(**run_raw)
        config = LabConfig(
            name=str(lab["name"]),
            eval=str(lab["eval"]),
            metric=str(lab["metric"]),
            direction=str(lab["direction"]),
            edit=_strings(lab["edit"], f"{where}: edit"),
            data=_strings(lab.get("data", []), f"{where}: data"),
            evaluator=_strings(lab.get("evaluator", []), f"{where}: evaluator"),
            timeout=float(lab.get("timeout", 300.0)),
            target=str(lab.get("target", "main")),
            run=run,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where} is missing or has a bad setting ({exc}); fix it") from None
    return validate(config)


def load(workdir: Path, name: str) -> LabConfig:
    check_name(name)
    path = lab_dir(workdir, name) / "lab.toml"
    if not path.is_file():
        raise UsageError(
            f"no lab named {name!r} ({path} is missing); create it with `forge lab init`"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix it") from None
    config = from_mapping(raw, str(path))
    if config.name != name:
        raise ConfigError(f"{path} names the lab {config.name!r}; it must say name = {name!r}")
    return config


def labs(workdir: Path) -> list[str]:
    root = workdir / LABS_RELPATH
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "lab.toml").is_file())


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def render(config: LabConfig) -> str:
    """lab.toml for ``config``, with a comment per setting."""
    lines = [
        f"# forge lab {config.name}: `forge lab check|lock|run|status|promote {config.name}`.",
        "# The [lab] table is locked by `forge lab lock`; change it only after `forge lab unlock`.",
        "[lab]",
        f"name = {_toml(config.name)}",
    ]
    for f in dataclasses.fields(config):
        if f.name in ("name", "run"):
            continue
        lines.append(f"{f.name} = {_toml(getattr(config, f.name))}")
    lines += ["", "# Defaults for `forge lab run` (flags override them); not locked.", "[run]"]
    for f in dataclasses.fields(config.run):
        lines.append(f"{f.name} = {_toml(getattr(config.run, f.name))}")
    return "\n".join(lines) + "\n"
