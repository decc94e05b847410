"""Session transcripts: one JSON line per event, secrets redacted before anything is written.

A line is ``{"event": kind, "t": seconds since the session started, ...}``. Events: ``start``
(role, backend, model, limits, tools), ``request`` (turn, size, estimate), ``response``
(content, stop_reason, usage, cost), ``tool`` (id, name, input, result clipped, is_error,
duration), ``note`` (nudges, compaction, retries), ``end`` (outcome, reason, totals).
A killed process leaves at most one partial last line, which :func:`read` skips.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from leanforge.sandbox.base import is_secret

#: Tool output kept per string in a transcript; the rest is cut from the middle.
CLIP_CHARS = 20_000

REDACTED = "[redacted]"

#: Credential shapes redacted even when they are not in forge's environment.
_TOKEN_PATTERNS = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]{16,}"
)

#: Secret values shorter than this are not redacted by value (they would match everywhere).
_MIN_SECRET_LEN = 8


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values of the environment's secret variables, longest first."""
    values = {v for k, v in env.items() if is_secret(k) and len(v) >= _MIN_SECRET_LEN}
    return tuple(sorted(values, key=len, reverse=True))


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = tuple(secrets)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return _TOKEN_PATTERNS.sub(REDACTED, value)

    def __call__(self, value: Any) -> Any:
        """A copy of ``value`` with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def clip(text: str, limit: int = CLIP_CHARS) -> str:
    """``text`` cut to ``limit`` characters from the middle, saying how much went."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut in the transcript ...]\n{text[-half:]}"


class Transcript:
    """Appends redacted events to ``path`` (JSONL), flushing each line."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self.redact = redactor
        self._started = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO | None = path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        if self._handle is None:
            return
        line = {"event": event, "t": round(time.monotonic() - self._started, 3), **fields}
        self._handle.write(json.dumps(self.redact(line), sort_keys=True, default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Transcript:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a transcript, skipping a torn last line."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                yield event
