"""lab.toml: render and parse, validation, the edit scope, and the paths a lab may name."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from leanforge.errors import ConfigError, UsageError
from leanforge.lab import setup
from leanforge.lab.setup import LabConfig, RunDefaults


def config(**changes: object) -> LabConfig:
    base = LabConfig(
        name="speed-up",
        eval='python bench/evaluate.py --label "a b"',
        metric="steps",
        direction="min",
        edit=("src/*.py", "algo.py"),
        data=("bench/noise.txt",),
        evaluator=("bench/evaluate.py",),
        timeout=42.5,
        target="develop",
        run=RunDefaults(repeats=3, noise_k=1.5, director_every=0, min_delta=0.25),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_render_round_trips_through_from_mapping() -> None:
    original = config()
    text = setup.render(original)
    assert text.startswith("# forge lab speed-up:")
    parsed = setup.from_mapping(tomllib.loads(text), "lab.toml")
    assert parsed == original
    assert parsed.run.noise_k == 1.5 and parsed.run.repeats == 3
    assert parsed.locked_settings() == original.locked_settings()


def test_render_round_trips_defaults_and_quotes() -> None:
    original = LabConfig(
        name="q",
        eval="bash -c 'echo \"quoted\" \\\\ back'",
        metric="score",
        direction="max",
        edit=("lib",),
    )
    parsed = setup.from_mapping(tomllib.loads(setup.render(original)), "lab.toml")
    assert parsed == original
    assert parsed.run == RunDefaults()


def test_from_mapping_refuses_unknown_run_setting_and_missing_lab_table() -> None:
    raw = tomllib.loads(setup.render(config()))
    raw["run"]["turbo"] = True
    with pytest.raises(ConfigError, match=r"unknown \[run\] setting.*turbo"):
        setup.from_mapping(raw, "lab.toml")
    with pytest.raises(ConfigError, match=r"no \[lab\] table"):
        setup.from_mapping({"run": {}}, "lab.toml")
    raw = tomllib.loads(setup.render(config()))
    del raw["lab"]["metric"]
    with pytest.raises(ConfigError, match="missing or has a bad setting"):
        setup.from_mapping(raw, "lab.toml")


def test_validate_accepts_a_good_config() -> None:
    assert setup.validate(config()) == config()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"direction": "down"}, "direction 'down' is neither 'min' nor 'max'"),
        ({"edit": ()}, "edit is empty"),
        ({"eval": "  "}, "eval is empty"),
        ({"metric": ""}, "metric is empty"),
        ({"timeout": 0.0}, "timeout must be a positive"),
        ({"timeout": float("inf")}, "timeout must be a positive"),
        (
            {"edit": ("bench",)},
            "--edit covers locked file\\(s\\) bench/evaluate.py, bench/noise.txt",
        ),
        ({"edit": ("*.py",)}, "--edit covers locked file\\(s\\) bench/evaluate.py"),
        ({"edit": ("bench/noise.txt",)}, "--edit covers locked file\\(s\\) bench/noise.txt"),
        ({"run": RunDefaults(baseline_repeats=1)}, "baseline_repeats >= 2"),
        ({"run": RunDefaults(repeats=0)}, "repeats must be >= 1"),
    ],
)
def test_validate_errors(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        setup.validate(config(**changes))


@pytest.mark.parametrize(
    "name", ["Speed", "speed_up", "-speed", "speed--up", "", "a" * 51, "sp eed"]
)
def test_validate_refuses_bad_names(name: str) -> None:
    with pytest.raises(UsageError, match=r"lab name|slug"):
        setup.validate(config(name=name))


def test_check_name_says_kebab_case() -> None:
    with pytest.raises(UsageError, match="lab name 'Speed' is not lowercase kebab-case"):
        setup.check_name("Speed")
    assert setup.check_name("speed-2") == "speed-2"


def test_in_scope_glob_crosses_slashes() -> None:
    globs = ("src/*.py",)
    assert setup.in_scope("src/a.py", globs)
    assert setup.in_scope("src/pkg/deep/mod.py", globs)
    assert not setup.in_scope("src/a.txt", globs)
    assert not setup.in_scope("lib/src/a.py", globs)
    assert setup.in_scope("x/y/z.py", ("*.py",))


def test_in_scope_folder_prefix() -> None:
    for glob in ("src", "src/"):
        assert setup.in_scope("src/a.txt", (glob,))
        assert setup.in_scope("src/deep/b/c.bin", (glob,))
        assert not setup.in_scope("srcx/a.txt", (glob,))
        assert not setup.in_scope("other/src/a.txt", (glob,))
    assert setup.in_scope("algo.py", ("algo.py",))
    assert not setup.in_scope("algo.pyc", ("algo.py",))
    assert not setup.in_scope("algo.py", ())
    assert setup.in_scope("b.py", ("a.py", "b.py"))


def test_files_in_command(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "bench").mkdir()
    (root / "bench" / "eval.py").write_text("")
    (root / "data.csv").write_text("")
    outside = tmp_path.parent / "outside-eval.py"
    outside.write_text("")
    command = (
        f"python bench/eval.py --in data.csv --dir bench --missing nope.txt {outside} "
        f"{root / 'data.csv'} ./bench/eval.py"
    )
    assert setup.files_in_command(root, command) == ("bench/eval.py", "data.csv")
    assert setup.files_in_command(root, "echo hi") == ()


def test_files_in_command_refuses_a_broken_command(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not parse as a shell command"):
        setup.files_in_command(tmp_path, "python 'unterminated")


def test_clean_path_inside(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    assert setup.clean_path(root, "bench/noise.txt", "--data") == "bench/noise.txt"
    assert setup.clean_path(root, "./a/../b.txt", "--data") == "b.txt"
    assert setup.clean_path(root, str(root / "x" / "y.txt"), "--data") == "x/y.txt"
    assert setup.clean_path(root, ".gitignore", "--data") == ".gitignore"
    assert setup.clean_path(root, ".github/x.yml", "--data") == ".github/x.yml"


@pytest.mark.parametrize("raw", ["../other.txt", "/etc/passwd", ".", "a/../../b"])
def test_clean_path_refuses_outside_the_repo(tmp_path: Path, raw: str) -> None:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    with pytest.raises(UsageError, match=re.escape(f"--data {raw!r} is outside the repository")):
        setup.clean_path(root, raw, "--data")


def test_clean_path_refuses_a_symlink_out(tmp_path: Path) -> None:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UsageError, match="outside the repository"):
        setup.clean_path(root, "link.txt", "--data")


@pytest.mark.parametrize("raw", [".git", ".git/config", "sub/../.git/HEAD"])
def test_clean_path_refuses_git(tmp_path: Path, raw: str) -> None:
    root = tmp_path.resolve()
    with pytest.raises(UsageError, match=r"is inside \.git"):
        setup.clean_path(root, raw, "--eval-file")
