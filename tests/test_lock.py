"""The lock: a self-hashing manifest plus pristine bytes, verified three ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanforge import lock
from leanforge.errors import CorruptState, LockTampered
from leanforge.state import atomic_write_json

CONTENTS = {
    (lock.ACCEPTANCE, "tests/test_calc.py"): b"def test_add():\n    assert True\n",
    (lock.HOLDOUT, "holdout/test_holdout.py"): b"def test_commutes():\n    assert True\n",
    (lock.SPEC, ".forge/specs/fix-add.md"): b"# make add add\n",
    (lock.ACCEPTANCE, "tests/a/test_first.py"): b"def test_first():\n    assert 1\n",
}


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    return tmp_path / "lock"


@pytest.fixture
def manifest(lock_dir: Path) -> lock.Manifest:
    return lock.write_lock(lock_dir, "fix-add", CONTENTS)


def write_forged(lock_dir: Path, forged: lock.Manifest) -> None:
    """A manifest that is consistent with itself, as an attacker would write it."""
    atomic_write_json(
        lock_dir / lock.MANIFEST_NAME, {**forged.body(), "manifest_sha256": forged.digest}
    )


def test_round_trip_returns_every_pristine_file(lock_dir: Path, manifest: lock.Manifest) -> None:
    read = lock.read_manifest(lock_dir, manifest.digest)
    assert read == manifest
    pristine = lock.read_pristine(lock_dir, read)
    assert pristine == {path: data for (_, path), data in CONTENTS.items()}


def test_read_pristine_filters_by_kind(lock_dir: Path, manifest: lock.Manifest) -> None:
    assert set(lock.read_pristine(lock_dir, manifest, [lock.HOLDOUT])) == {
        "holdout/test_holdout.py"
    }
    assert set(lock.read_pristine(lock_dir, manifest, [lock.ACCEPTANCE])) == {
        "tests/a/test_first.py",
        "tests/test_calc.py",
    }


def test_manifest_is_sorted_by_kind_then_path(manifest: lock.Manifest) -> None:
    assert [(f.kind, f.path) for f in manifest.files] == [
        (lock.ACCEPTANCE, "tests/a/test_first.py"),
        (lock.ACCEPTANCE, "tests/test_calc.py"),
        (lock.HOLDOUT, "holdout/test_holdout.py"),
        (lock.SPEC, ".forge/specs/fix-add.md"),
    ]
    assert [f.path for f in manifest.of_kind(lock.HOLDOUT)] == ["holdout/test_holdout.py"]


def test_digest_is_stable_and_independent_of_insertion_order() -> None:
    forwards = lock.build_manifest("fix-add", CONTENTS)
    backwards = lock.build_manifest("fix-add", dict(reversed(list(CONTENTS.items()))))
    assert forwards.digest == backwards.digest
    assert forwards.digest == lock.build_manifest("fix-add", dict(CONTENTS)).digest
    assert len(forwards.digest) == 64


def test_digest_covers_content_slug_and_kind() -> None:
    digest = lock.build_manifest("fix-add", CONTENTS).digest
    edited = {**CONTENTS, (lock.ACCEPTANCE, "tests/test_calc.py"): b"def test_add(): pass\n"}
    assert lock.build_manifest("fix-add", edited).digest != digest
    assert lock.build_manifest("other-slug", CONTENTS).digest != digest
    moved = dict(CONTENTS)
    moved[(lock.HOLDOUT, "tests/test_calc.py")] = moved.pop((lock.ACCEPTANCE, "tests/test_calc.py"))
    assert lock.build_manifest("fix-add", moved).digest != digest


def test_pristine_bytes_are_stored_by_kind_and_path(
    lock_dir: Path, manifest: lock.Manifest
) -> None:
    stored = lock_dir / lock.ACCEPTANCE / "tests" / "test_calc.py"
    assert stored.read_bytes() == CONTENTS[(lock.ACCEPTANCE, "tests/test_calc.py")]
    on_disk = json.loads((lock_dir / lock.MANIFEST_NAME).read_text())
    assert on_disk["manifest_sha256"] == manifest.digest


def test_a_manifest_not_matching_its_own_hash_is_tampering(
    lock_dir: Path, manifest: lock.Manifest
) -> None:
    path = lock_dir / lock.MANIFEST_NAME
    raw = json.loads(path.read_text())
    raw["files"][0]["sha256"] = "0" * 64
    path.write_text(json.dumps(raw))
    with pytest.raises(LockTampered, match="does not match its own hash"):
        lock.read_manifest(lock_dir, manifest.digest)


def test_a_self_consistent_rewrite_is_caught_by_the_recorded_digest(
    lock_dir: Path, manifest: lock.Manifest
) -> None:
    cheat = {**CONTENTS, (lock.ACCEPTANCE, "tests/test_calc.py"): b"def test_add(): pass\n"}
    rewritten = lock.write_lock(lock_dir, "fix-add", cheat)
    # On its own the rewritten lock is perfectly consistent...
    assert lock.read_manifest(lock_dir, rewritten.digest) == rewritten
    # ...but not with the digest the task recorded.
    with pytest.raises(LockTampered, match="rewritten") as caught:
        lock.read_manifest(lock_dir, manifest.digest)
    assert manifest.digest[:12] in str(caught.value)


def test_an_edited_pristine_file_is_tampering(lock_dir: Path, manifest: lock.Manifest) -> None:
    (lock_dir / lock.ACCEPTANCE / "tests" / "test_calc.py").write_bytes(b"def test_add(): pass\n")
    with pytest.raises(LockTampered, match=r"tests/test_calc\.py .*sha256"):
        lock.read_pristine(lock_dir, manifest)
    # The untouched kinds still read fine.
    assert lock.read_pristine(lock_dir, manifest, [lock.HOLDOUT])


def test_a_missing_pristine_file_is_tampering(lock_dir: Path, manifest: lock.Manifest) -> None:
    (lock_dir / lock.HOLDOUT / "holdout" / "test_holdout.py").unlink()
    with pytest.raises(LockTampered, match=r"holdout/test_holdout\.py .*missing"):
        lock.read_pristine(lock_dir, manifest, [lock.HOLDOUT])


def test_a_missing_manifest_is_tampering(lock_dir: Path, manifest: lock.Manifest) -> None:
    (lock_dir / lock.MANIFEST_NAME).unlink()
    with pytest.raises(LockTampered, match="missing"):
        lock.read_manifest(lock_dir, manifest.digest)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"slug": "fix-add", "files": []}',  # no manifest_sha256
        '{"slug": "fix-add", "files": [{"path": "x"}], "manifest_sha256": "0"}',
        '{"slug": "fix-add", "files": 3, "manifest_sha256": "0"}',
    ],
)
def test_an_unreadable_manifest_is_corrupt_state(
    lock_dir: Path, manifest: lock.Manifest, text: str
) -> None:
    (lock_dir / lock.MANIFEST_NAME).write_text(text)
    with pytest.raises(CorruptState, match="re-spec the task"):
        lock.read_manifest(lock_dir, manifest.digest)


@pytest.mark.parametrize("unsafe", ["../x", "tests/../../x", "/etc/passwd"])
def test_an_unsafe_path_in_a_forged_manifest_is_tampering(lock_dir: Path, unsafe: str) -> None:
    (lock_dir.parent / "x").write_bytes(b"outside")
    forged = lock.Manifest(
        slug="fix-add", files=(lock.LockedFile(unsafe, lock.ACCEPTANCE, lock.sha256(b"outside")),)
    )
    write_forged(lock_dir, forged)
    manifest = lock.read_manifest(lock_dir, forged.digest)
    with pytest.raises(LockTampered, match="unsafe path"):
        lock.read_pristine(lock_dir, manifest)


def test_writing_an_unsafe_path_is_refused(lock_dir: Path) -> None:
    with pytest.raises(LockTampered, match="unsafe path"):
        lock.write_lock(lock_dir, "fix-add", {(lock.ACCEPTANCE, "../escape.py"): b"x"})
    assert not (lock_dir.parent / "escape.py").exists()


def test_an_unknown_kind_is_tampering(lock_dir: Path) -> None:
    forged = lock.Manifest(
        slug="fix-add", files=(lock.LockedFile("tests/test_x.py", "bonus", lock.sha256(b"x")),)
    )
    write_forged(lock_dir, forged)
    with pytest.raises(LockTampered, match="unknown kind"):
        lock.read_manifest(lock_dir, forged.digest)


def test_error_messages_are_one_line(lock_dir: Path, manifest: lock.Manifest) -> None:
    (lock_dir / lock.MANIFEST_NAME).write_text("{not json\n\n")
    with pytest.raises(CorruptState) as caught:
        lock.read_manifest(lock_dir, manifest.digest)
    assert "\n" not in str(caught.value)
