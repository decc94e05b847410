"""The unisolated executor works, and says it is unisolated on every run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from leanforge.sandbox.base import RunRequest
from leanforge.sandbox.none import WARNING, NoneExecutor

RequestFor = Callable[..., RunRequest]


def test_warns_on_every_run(request_for: RequestFor) -> None:
    seen: list[str] = []
    executor = NoneExecutor(warn=seen.append)
    results = [executor.run(request_for("print('hi')")) for _ in range(3)]
    assert len(seen) == 3
    assert all(
        message.startswith("sandbox: none — commands run without isolation") for message in seen
    )
    assert all("\n" not in message for message in seen)
    for result in results:
        assert (result.returncode, result.stdout, result.executor) == (0, "hi\n", "none")
        assert result.warnings == (seen[0],)


def test_the_reason_joins_the_warning(request_for: RequestFor) -> None:
    seen: list[str] = []
    NoneExecutor(warn=seen.append, reason="bubblewrap unavailable").run(request_for("pass"))
    assert seen == [f"{WARNING} (bubblewrap unavailable)"]


def test_nothing_is_hidden(request_for: RequestFor, secret: Path) -> None:
    # The control for the bwrap isolation tests: the same probe does see the secret here.
    code = "import sys; print(open(sys.argv[1]).read(), end='')"
    result = NoneExecutor(warn=lambda message: None).run(request_for(code, str(secret)))
    assert result.stdout == "held-out answer\n"
