"""The board's routing table: which request targets exist, and which static files may be served.

Decisions over the raw request target, made before anything is read: strict path patterns
(lower-case names, bounded session ids, no ``%``, ``..``, ``//`` or backslashes) map a path to
a :class:`Route` (pure), and a static name must match a plain file name and resolve to a file
directly inside :data:`STATIC_DIR`, so traversal and encoding tricks never reach a file's bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
_NAME = r"[a-z0-9]+(?:-[a-z0-9]+)*"
#: A session id (a transcript's file stem), unanchored: routes and data anchor it.
SESSION = r"[0-9A-Za-z_-]{1,100}"
_STATIC = re.compile(r"^[a-z0-9_-]+\.(css|js|svg|png)$")
CONTENT_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
}


@dataclass(frozen=True)
class Route:
    """A matched path: which page, its kind (api / html / static / events) and its names."""

    kind: str
    page: str
    args: tuple[str, ...] = ()


_ROUTES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(p), kind, page)
    for p, kind, page in [
        (r"^/(?:tasks)?$", "html", "tasks"),
        (rf"^/tasks/({_NAME})$", "html", "task"),
        (r"^/labs$", "html", "labs"),
        (rf"^/labs/({_NAME})$", "html", "lab"),
        (r"^/playbook$", "html", "playbook"),
        (r"^/static/([a-z0-9_.-]+)$", "static", "file"),
        (r"^/api/tasks$", "api", "tasks"),
        (rf"^/api/tasks/({_NAME})$", "api", "task"),
        (rf"^/api/tasks/({_NAME})/transcripts/({SESSION})$", "api", "transcript"),
        (r"^/api/labs$", "api", "labs"),
        (rf"^/api/labs/({_NAME})$", "api", "lab"),
        (r"^/api/playbook$", "api", "playbook"),
        (r"^/api/events$", "events", "events"),
    ]
]


def route(path: str) -> Route | None:
    """The route for a raw request path (no query), or None. Pure.

    No route needs percent-encoding, so any ``%`` is refused outright: ``%2f``, ``%2e`` and
    ``%00`` never get decoded into something a check already passed.
    """
    if any(bad in path for bad in ("%", "..", "//", "\\", "\x00")) or not path.startswith("/"):
        return None
    for pattern, kind, page in _ROUTES:
        found = pattern.match(path)
        if found and all(len(arg) <= 50 for arg in found.groups()[:1]):
            return Route(kind, page, found.groups())
    return None


def target_path(target: str) -> str:
    """A request target's path: the query and the fragment cut off. Pure."""
    return target.partition("?")[0].partition("#")[0]


def static_file(name: str) -> tuple[Path, str] | None:
    """The file a static route names and its content type, or None when it is not one to serve."""
    match = _STATIC.match(name)
    folder = STATIC_DIR.resolve()
    path = (folder / name).resolve()
    if match is None or path.parent != folder or not path.is_file():
        return None
    return path, CONTENT_TYPES[match.group(1)]
