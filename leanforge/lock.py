"""The lock: pristine bytes of locked files plus a sha256 manifest that hashes itself.

A manifest is verified three ways: its own recorded hash, the hash the task record keeps
(so a self-consistent rewrite on disk is still caught), and every pristine file's sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from leanforge.errors import CorruptState, LockTampered
from leanforge.state import atomic_write, atomic_write_json

ACCEPTANCE = "acceptance"
HOLDOUT = "holdout"
SPEC = "spec"
#: A lab's locked parts: its evaluator's files, its data files, and its locked settings.
EVALUATOR = "evaluator"
DATA = "data"
SETTINGS = "settings"
KINDS = (ACCEPTANCE, HOLDOUT, SPEC, EVALUATOR, DATA, SETTINGS)
MANIFEST_NAME = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LockedFile:
    path: str  # repo-relative, POSIX
    kind: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    slug: str
    files: tuple[LockedFile, ...]

    def body(self) -> dict[str, object]:
        return {
            "version": 1,
            "slug": self.slug,
            "files": [{"path": f.path, "kind": f.kind, "sha256": f.sha256} for f in self.files],
        }

    @property
    def digest(self) -> str:
        """The manifest's own hash: sha256 of its canonical JSON body."""
        return sha256(json.dumps(self.body(), sort_keys=True, separators=(",", ":")).encode())

    def of_kind(self, kind: str) -> tuple[LockedFile, ...]:
        return tuple(f for f in self.files if f.kind == kind)


def build_manifest(slug: str, contents: Mapping[tuple[str, str], bytes]) -> Manifest:
    """Manifest for ``{(kind, path): bytes}``, sorted so its hash is stable."""
    files = tuple(
        LockedFile(path=path, kind=kind, sha256=sha256(data))
        for (kind, path), data in sorted(
            contents.items(), key=lambda item: (KINDS.index(item[0][0]), item[0][1])
        )
    )
    return Manifest(slug=slug, files=files)


def _stored_path(lock_dir: Path, entry: LockedFile) -> Path:
    rel = PurePosixPath(entry.path)
    if rel.is_absolute() or ".." in rel.parts:
        raise LockTampered(
            f"lock manifest names an unsafe path {entry.path!r}; the lock was tampered with"
        )
    return lock_dir / entry.kind / Path(*rel.parts)


def write_lock(lock_dir: Path, slug: str, contents: Mapping[tuple[str, str], bytes]) -> Manifest:
    """Store pristine bytes and the manifest under ``lock_dir``; return the manifest."""
    manifest = build_manifest(slug, contents)
    for entry in manifest.files:
        atomic_write(_stored_path(lock_dir, entry), contents[(entry.kind, entry.path)])
    atomic_write_json(
        lock_dir / MANIFEST_NAME, {**manifest.body(), "manifest_sha256": manifest.digest}
    )
    return manifest


def read_manifest(lock_dir: Path, expected_digest: str) -> Manifest:
    """Read and verify the manifest against itself and against the digest the task recorded."""
    path = lock_dir / MANIFEST_NAME
    if not path.is_file():
        raise LockTampered(
            f"lock manifest {path} is missing; the lock was deleted, re-spec the task"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(
            slug=str(raw["slug"]),
            files=tuple(
                LockedFile(path=str(f["path"]), kind=str(f["kind"]), sha256=str(f["sha256"]))
                for f in raw["files"]
            ),
        )
        claimed = str(raw["manifest_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptState(f"lock manifest {path} is unreadable ({exc}); re-spec the task") from exc
    if any(f.kind not in KINDS for f in manifest.files):
        raise LockTampered(
            f"lock manifest {path} names an unknown kind of file; the lock was tampered with"
        )
    if manifest.digest != claimed:
        raise LockTampered(
            f"lock manifest {path} does not match its own hash; the lock was tampered with"
        )
    if manifest.digest != expected_digest:
        raise LockTampered(
            f"lock manifest hash sha256:{manifest.digest[:12]}… differs from the task's recorded sha256:{expected_digest[:12]}…; "
            "the lock was rewritten"
        )
    return manifest


def read_pristine(
    lock_dir: Path, manifest: Manifest, kinds: Iterable[str] = KINDS
) -> dict[str, bytes]:
    """Pristine bytes of the locked files of ``kinds``, each checked against the manifest."""
    wanted = set(kinds)
    out: dict[str, bytes] = {}
    for entry in manifest.files:
        if entry.kind not in wanted:
            continue
        stored = _stored_path(lock_dir, entry)
        try:
            data = stored.read_bytes()
        except OSError as exc:
            raise LockTampered(
                f"locked file {entry.path} ({entry.kind}) is missing from the lock store"
            ) from exc
        if sha256(data) != entry.sha256:
            raise LockTampered(
                f"locked file {entry.path} ({entry.kind}) does not match its sha256 in the manifest"
            )
        out[entry.path] = data
    return out
