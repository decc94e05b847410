"""Push refs to a remote with pygit2 (no `git` subprocess), with a token for HTTPS remotes."""

from __future__ import annotations

from collections.abc import Sequence

import pygit2

from leanforge.errors import PushRejected, UsageError


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, token: str) -> None:
        credentials = pygit2.UserPass("x-access-token", token) if token else None
        super().__init__(credentials=credentials)
        self.rejected: list[str] = []

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected.append(f"{refname}: {message}")


def push(repo: pygit2.Repository, remote: str, refspecs: Sequence[str], token: str = "") -> None:
    """Push ``refspecs`` (``+src:dst`` forces) to ``remote``; raise PushRejected on any refusal.

    ``token`` authenticates HTTPS remotes as GitHub expects (user ``x-access-token``); it is
    never put in a URL or an error message.
    """
    try:
        target = repo.remotes[remote]
    except KeyError:
        raise UsageError(f"no git remote named {remote!r}; pass --remote NAME") from None
    callbacks = _Callbacks(token)
    try:
        target.push(list(refspecs), callbacks=callbacks)
    except pygit2.GitError as exc:
        text = str(exc).replace(token, "***") if token else str(exc)
        raise PushRejected(f"pushing {', '.join(refspecs)} to {remote} failed: {text}") from None
    if callbacks.rejected:
        raise PushRejected(f"{remote} refused the push: {'; '.join(callbacks.rejected)}")
