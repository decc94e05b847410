"""Small pygit2 helpers for writing commits without touching any working tree or index file."""

from __future__ import annotations

from collections.abc import Mapping

import pygit2
from pygit2.enums import FileMode

FALLBACK_NAME, FALLBACK_EMAIL = "leanforge", "forge@localhost"


def signature(repo: pygit2.Repository) -> pygit2.Signature:
    """The repository's configured identity, or forge's own when none is set."""
    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature(FALLBACK_NAME, FALLBACK_EMAIL)


def tree_with(repo: pygit2.Repository, base: pygit2.Tree, files: Mapping[str, bytes]) -> pygit2.Oid:
    """A new tree: ``base`` with ``files`` (repo-relative path -> bytes) written over it."""
    index = pygit2.Index()
    index.read_tree(base)
    for path, data in files.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(data), FileMode.BLOB))
    return index.write_tree(repo)


def commit_files(
    repo: pygit2.Repository, parent: pygit2.Commit, files: Mapping[str, bytes], message: str
) -> pygit2.Commit:
    """A commit on top of ``parent`` adding ``files``; no ref moves."""
    sig = signature(repo)
    oid = repo.create_commit(
        None, sig, sig, message, tree_with(repo, parent.tree, files), [parent.id]
    )
    commit = repo[oid]
    assert isinstance(commit, pygit2.Commit)
    return commit
