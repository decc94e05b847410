"""Lock a lab's evaluator, data and settings by sha256; verify them before every run.

The lock reuses the task lock's store (:mod:`leanforge.lock`): pristine bytes plus a manifest
that hashes itself, with the manifest's digest kept in the lab record, so a rewritten lock on
disk is caught like a changed file.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from leanforge import lock
from leanforge.clock import iso
from leanforge.context import Forge
from leanforge.errors import LabChanged, LabNotLocked, UsageError
from leanforge.lab.ledger import LabPaths, Ledger
from leanforge.lab.setup import LABS_RELPATH, LabConfig

Contents = dict[tuple[str, str], bytes]


@dataclass(frozen=True)
class Pristine:
    """A verified lock: its digest, and the bytes the evaluator must run with."""

    digest: str
    files: Mapping[str, bytes]


def settings_path(name: str) -> str:
    return f"{LABS_RELPATH}/{name}/lab.toml"


def current_contents(forge: Forge, config: LabConfig) -> tuple[Contents, list[str]]:
    """What the lock would cover now, read from the checkout; and the locked files that are missing."""
    contents: Contents = {(lock.SETTINGS, settings_path(config.name)): config.locked_settings()}
    missing = []
    for kind, paths in ((lock.EVALUATOR, config.evaluator), (lock.DATA, config.data)):
        for path in paths:
            full = forge.paths.workdir / path
            if full.is_file():
                contents[(kind, path)] = full.read_bytes()
            else:
                missing.append(path)
    return contents, missing


def lock_lab(forge: Forge, config: LabConfig) -> tuple[str, bool]:
    """Lock the lab as it is in the checkout; return (digest, newly locked?)."""
    paths = LabPaths(forge.paths, config.name)
    ledger = Ledger(paths)
    contents, missing = current_contents(forge, config)
    if missing:
        raise UsageError(
            f"lab {config.name}: locked file(s) {', '.join(missing)} do not exist; create them or fix lab.toml"
        )
    with ledger.locked():
        record = ledger.get()
        wanted = lock.build_manifest(config.name, contents).digest
        if record.lock_sha256 == wanted:
            return wanted, False
        if record.lock_sha256:
            raise UsageError(
                f"lab {config.name} is locked and its locked parts changed; "
                f"`forge lab unlock {config.name}` first, then lock again"
            )
        if paths.lock_dir.exists():
            shutil.rmtree(paths.lock_dir)
        manifest = lock.write_lock(paths.lock_dir, config.name, contents)
        now = iso(forge.clock.now())
        event = {"at": now, "event": "lock", "sha256": manifest.digest, "note": ""}
        ledger.put(
            dataclasses.replace(
                record,
                lock_sha256=manifest.digest,
                locked_at=now,
                history=(*record.history, event),
            )
        )
    return manifest.digest, True


def unlock_lab(forge: Forge, name: str, note: str) -> str:
    """Drop the lab's lock and record who said why; return the digest that was unlocked."""
    paths = LabPaths(forge.paths, name)
    ledger = Ledger(paths)
    with ledger.locked():
        record = ledger.get()
        if not record.lock_sha256:
            raise UsageError(f"lab {name} is not locked; nothing to unlock")
        event = {
            "at": iso(forge.clock.now()),
            "event": "unlock",
            "sha256": record.lock_sha256,
            "note": note,
        }
        ledger.put(
            dataclasses.replace(
                record, lock_sha256="", locked_at="", history=(*record.history, event)
            )
        )
        if paths.lock_dir.exists():
            shutil.rmtree(paths.lock_dir)
    return event["sha256"]


def differences(locked: Mapping[str, bytes], settings: str, current: Contents) -> list[str]:
    """What changed between the pristine locked bytes and the checkout's: one line each.

    ``locked`` maps locked paths to pristine bytes (the settings under ``settings``).
    """
    now = {path: data for (_, path), data in current.items()}
    changes = []
    for path, data in sorted(locked.items()):
        if path == settings:
            continue
        if path not in now:
            changes.append(f"{path}: deleted")
        elif lock.sha256(now[path]) != lock.sha256(data):
            changes.append(
                f"{path}: sha256 {lock.sha256(data)[:12]} -> {lock.sha256(now[path])[:12]}"
            )
    for path in sorted(set(now) - set(locked)):
        changes.append(f"{path}: added to the locked files")
    if settings in locked and settings in now:
        old, new = json.loads(locked[settings]), json.loads(now[settings])
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append(f"lab.toml {key}: {old.get(key)!r} -> {new.get(key)!r}")
    return changes


def verify(forge: Forge, config: LabConfig) -> Pristine:
    """The lab's verified lock, refusing an unlocked lab or one whose locked parts changed."""
    paths = LabPaths(forge.paths, config.name)
    record = Ledger(paths).get()
    if not record.lock_sha256:
        raise LabNotLocked(
            f"lab {config.name} is not locked; check it with `forge lab check {config.name}`, "
            f"then `forge lab lock {config.name}`"
        )
    manifest = lock.read_manifest(paths.lock_dir, record.lock_sha256)
    pristine = lock.read_pristine(paths.lock_dir, manifest)
    current, _ = current_contents(forge, config)
    changes = differences(pristine, settings_path(config.name), current)
    if changes:
        raise LabChanged(
            f"lab {config.name}'s locked parts changed since it was locked ({'; '.join(changes)}); "
            f"restore them, or `forge lab unlock {config.name}` and lock again"
        )
    files = {
        entry.path: pristine[entry.path] for entry in manifest.files if entry.kind != lock.SETTINGS
    }
    return Pristine(digest=manifest.digest, files=files)


def still_locked(forge: Forge, name: str, digest: str) -> None:
    """Check, before an evaluation, that the lock a run started with is the lock on disk, intact."""
    paths = LabPaths(forge.paths, name)
    record = Ledger(paths).get()
    if record.lock_sha256 != digest:
        raise LabChanged(
            f"lab {name} was unlocked or re-locked during this run; start `forge lab run {name}` again"
        )
    manifest = lock.read_manifest(paths.lock_dir, digest)
    lock.read_pristine(paths.lock_dir, manifest)
