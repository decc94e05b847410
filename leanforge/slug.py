"""Task slugs: lowercase kebab-case, at most 50 characters, unique per repository."""

from __future__ import annotations

import re
from collections.abc import Container

from leanforge.errors import InvalidSlug

MAX_LENGTH = 50
_VALID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_STOPWORDS = frozenset(
    {"a", "an", "the", "to", "of", "and", "for", "in", "on", "with", "that", "so", "it"}
)


def validate(slug: str) -> str:
    if len(slug) > MAX_LENGTH:
        raise InvalidSlug(f"slug {slug!r} is {len(slug)} characters; use at most {MAX_LENGTH}")
    if not _VALID.fullmatch(slug):
        raise InvalidSlug(
            f"slug {slug!r} is not lowercase kebab-case; use letters, digits and single dashes, like add-retry-logic"
        )
    return slug


def derive(task: str, taken: Container[str] = ()) -> str:
    """Make a slug from a task sentence, unique among ``taken``."""
    words = re.findall(r"[a-z0-9]+", task.lower())
    meaningful = [w for w in words if w not in _STOPWORDS] or words or ["task"]
    base = ""
    for word in meaningful:
        candidate = f"{base}-{word}" if base else word
        if len(candidate) > MAX_LENGTH - 3:
            break
        base = candidate
    base = base or meaningful[0][: MAX_LENGTH - 3]
    slug, n = base, 2
    while slug in taken:
        suffix = f"-{n}"
        slug, n = f"{base[: MAX_LENGTH - len(suffix)].rstrip('-')}{suffix}", n + 1
    return validate(slug)
