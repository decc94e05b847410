"""The lab lock: what differs from it (pure), verify, tampering, and unlock."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leanforge import lock
from leanforge.context import Forge, open_forge
from leanforge.errors import LabChanged, LabNotLocked, LockTampered, UsageError
from leanforge.lab import setup
from leanforge.lab.create import init_lab
from leanforge.lab.locking import differences, lock_lab, still_locked, unlock_lab, verify

SETTINGS = ".forge/labs/speed/lab.toml"


def settings(**changes: Any) -> bytes:
    body = {
        "eval": "python e.py",
        "metric": "steps",
        "direction": "min",
        "edit": ["algo.py"],
        "data": [],
        "evaluator": ["e.py"],
        "timeout": 60.0,
        **changes,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


LOCKED = {"e.py": b"report()\n", "data.txt": b"1\n", SETTINGS: settings()}


def current(**overrides: bytes | None) -> dict[tuple[str, str], bytes]:
    files = {"e.py": b"report()\n", "data.txt": b"1\n"}
    for path, data in overrides.items():
        name = path.replace("_", ".")
        if data is None:
            files.pop(name)
        else:
            files[name] = data
    out = {(lock.EVALUATOR, p): d for p, d in files.items()}
    out[(lock.SETTINGS, SETTINGS)] = settings()
    return out


def test_differences_none() -> None:
    assert differences(LOCKED, SETTINGS, current()) == []


def test_differences_file_changed() -> None:
    changed = differences(LOCKED, SETTINGS, current(e_py=b"report(steps=1)\n"))
    old = hashlib.sha256(b"report()\n").hexdigest()[:12]
    new = hashlib.sha256(b"report(steps=1)\n").hexdigest()[:12]
    assert changed == [f"e.py: sha256 {old} -> {new}"]


def test_differences_file_deleted() -> None:
    assert differences(LOCKED, SETTINGS, current(data_txt=None)) == ["data.txt: deleted"]


def test_differences_file_added() -> None:
    now = current()
    now[(lock.DATA, "more.csv")] = b"x"
    assert differences(LOCKED, SETTINGS, now) == ["more.csv: added to the locked files"]


def test_differences_settings_key_changed() -> None:
    now = current()
    now[(lock.SETTINGS, SETTINGS)] = settings(direction="max", timeout=1.0)
    assert differences(LOCKED, SETTINGS, now) == [
        "lab.toml direction: 'min' -> 'max'",
        "lab.toml timeout: 60.0 -> 1.0",
    ]


def test_differences_settings_key_added_and_several_changes() -> None:
    now = current(e_py=b"other\n", data_txt=None)
    body = json.loads(settings())
    body["extra"] = 1
    now[(lock.SETTINGS, SETTINGS)] = json.dumps(body).encode()
    changed = differences(LOCKED, SETTINGS, now)
    assert changed[0] == "data.txt: deleted"
    assert changed[1].startswith("e.py: sha256 ")
    assert changed[2] == "lab.toml extra: None -> 1"
    assert len(changed) == 3


# -- against a real lab -------------------------------------------------------------------

EVALUATOR = (
    "from leanforge.lab import report\n\nreport(steps=float(open('bench/noise.txt').read()))\n"
)


@dataclass
class Repo:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / ".git" / "forge" / "labs" / "speed"

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state / "lab.json").read_text())
        return data

    def forge(self) -> tuple[Forge, setup.LabConfig]:
        forge = open_forge(self.root, env={**os.environ, "FORGE_SANDBOX": "none"})
        return forge, setup.load(forge.paths.workdir, "speed")


@pytest.fixture
def repo(small_repo: Callable[..., Path]) -> Repo:
    """A repository with lab ``speed`` initialised in-process (not locked)."""
    root = small_repo({"bench/evaluate.py": EVALUATOR, "bench/noise.txt": "100\n"})
    made = Repo(root)
    forge = open_forge(root)
    init_lab(
        forge,
        "speed",
        eval_command="python bench/evaluate.py",
        metric="steps",
        direction="min",
        edit=["algo.py"],
        data=["bench/noise.txt"],
        timeout=60,
    )
    return made


@pytest.fixture
def locked(repo: Repo) -> Repo:
    lock_lab(*repo.forge())
    return repo


def test_lock_then_verify(repo: Repo) -> None:
    lab = repo
    forge, config = lab.forge()
    with pytest.raises(LabNotLocked, match="lab speed is not locked"):
        verify(forge, config)
    digest, new = lock_lab(forge, config)
    assert new and len(digest) == 64
    assert lock_lab(forge, config) == (digest, False)
    pristine = verify(forge, config)
    assert pristine.digest == digest
    assert set(pristine.files) == {"bench/evaluate.py", "bench/noise.txt"}
    assert pristine.files["bench/evaluate.py"] == (lab.root / "bench/evaluate.py").read_bytes()
    record = lab.record()
    assert record["lock_sha256"] == digest
    assert [e["event"] for e in record["history"]] == ["lock"]
    manifest = json.loads((lab.state / "lock" / "manifest.json").read_text())
    assert manifest["manifest_sha256"] == digest
    assert {f["path"] for f in manifest["files"]} == {
        "bench/evaluate.py",
        "bench/noise.txt",
        SETTINGS,
    }


def test_run_settings_are_not_locked(locked: Repo) -> None:
    lab = locked
    toml = lab.root / SETTINGS
    toml.write_text(toml.read_text().replace("repeats = 1", "repeats = 4"))
    forge, config = lab.forge()
    assert config.run.repeats == 4
    verify(forge, config)


def test_edited_evaluator_is_named(locked: Repo) -> None:
    lab = locked
    evaluator = lab.root / "bench" / "evaluate.py"
    evaluator.write_text(evaluator.read_text() + "report(steps=0.0)\n")
    forge, config = lab.forge()
    with pytest.raises(
        LabChanged, match=r"bench/evaluate\.py: sha256 [0-9a-f]{12} -> [0-9a-f]{12}"
    ):
        verify(forge, config)
    with pytest.raises(UsageError, match="forge lab unlock speed"):
        lock_lab(forge, config)


def test_deleted_data_and_changed_settings_are_named(locked: Repo) -> None:
    lab = locked
    (lab.root / "bench" / "noise.txt").unlink()
    toml = lab.root / SETTINGS
    toml.write_text(toml.read_text().replace('metric = "steps"', 'metric = "calls"'))
    forge, config = lab.forge()
    with pytest.raises(LabChanged) as caught:
        verify(forge, config)
    assert "bench/noise.txt: deleted" in str(caught.value)
    assert "lab.toml metric: 'steps' -> 'calls'" in str(caught.value)


def test_tampered_pristine_copy(locked: Repo) -> None:
    lab = locked
    stored = lab.state / "lock" / lock.EVALUATOR / "bench" / "evaluate.py"
    assert stored.read_bytes() == (lab.root / "bench" / "evaluate.py").read_bytes()
    stored.write_text("from leanforge.lab import report\nreport(steps=0.0)\n")
    forge, config = lab.forge()
    with pytest.raises(LockTampered, match=r"bench/evaluate\.py .*does not match its sha256"):
        verify(forge, config)


def test_tampered_manifest(locked: Repo) -> None:
    lab = locked
    path = lab.state / "lock" / "manifest.json"
    raw = json.loads(path.read_text())
    raw["files"][0]["sha256"] = "0" * 64
    path.write_text(json.dumps(raw))
    forge, config = lab.forge()
    with pytest.raises(LockTampered, match="does not match its own hash"):
        verify(forge, config)


def test_consistently_rewritten_lock_is_caught_by_the_record(locked: Repo) -> None:
    """Rewrite the pristine evaluator and the manifest so both hash right: the record still differs."""
    lab = locked
    fake = b"from leanforge.lab import report\nreport(steps=0.0)\n"
    lock_dir = lab.state / "lock"
    (lock_dir / lock.EVALUATOR / "bench" / "evaluate.py").write_bytes(fake)
    path = lock_dir / "manifest.json"
    raw = json.loads(path.read_text())
    for entry in raw["files"]:
        if entry["path"] == "bench/evaluate.py":
            entry["sha256"] = hashlib.sha256(fake).hexdigest()
    body = {k: v for k, v in raw.items() if k != "manifest_sha256"}
    raw["manifest_sha256"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    path.write_text(json.dumps(raw))
    (lab.root / "bench" / "evaluate.py").write_bytes(fake)
    forge, config = lab.forge()
    with pytest.raises(LockTampered, match="the lock was rewritten"):
        verify(forge, config)


def test_deleted_lock_store(locked: Repo) -> None:
    lab = locked
    (lab.state / "lock" / "manifest.json").unlink()
    forge, config = lab.forge()
    with pytest.raises(LockTampered, match="missing"):
        verify(forge, config)


def test_unlock_records_the_reason_and_run_refuses(locked: Repo) -> None:
    lab = locked
    forge, _ = lab.forge()
    digest = lab.record()["lock_sha256"]
    assert unlock_lab(forge, "speed", "the data was wrong") == digest
    record = lab.record()
    assert record["lock_sha256"] == ""
    assert [e["event"] for e in record["history"]] == ["lock", "unlock"]
    event = record["history"][-1]
    assert event["note"] == "the data was wrong" and event["sha256"] == digest
    assert event["at"].endswith("Z")
    assert not (lab.state / "lock").exists()
    with pytest.raises(UsageError, match="lab speed is not locked; nothing to unlock"):
        unlock_lab(forge, "speed", "again")
    done = subprocess.run(
        [sys.executable, "-m", "leanforge", "lab", "run", "speed", "-n", "1"],
        cwd=lab.root,
        env={**os.environ, "ANTHROPIC_API_KEY": "", "FORGE_SANDBOX": "none"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "lab speed is not locked" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (lab.state / "results.jsonl").exists()


def test_still_locked_before_each_evaluation(locked: Repo) -> None:
    forge, _ = locked.forge()
    digest = locked.record()["lock_sha256"]
    still_locked(forge, "speed", digest)
    stored = locked.state / "lock" / lock.DATA / "bench" / "noise.txt"
    stored.write_text("0\n")
    with pytest.raises(LockTampered, match=r"bench/noise\.txt \(data\) does not match"):
        still_locked(forge, "speed", digest)
    stored.write_text("100\n")
    still_locked(forge, "speed", digest)
    unlock_lab(forge, "speed", "mid-run")
    with pytest.raises(LabChanged, match="was unlocked or re-locked during this run"):
        still_locked(forge, "speed", digest)
