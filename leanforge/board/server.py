"""The board's HTTP server: read-only pages, JSON, static files and a server-sent event stream.

Standard library only. Each request gets its own :class:`~leanforge.context.Forge` from the
factory (pygit2 handles are not thread-safe). Paths are matched against strict patterns before
anything is read, so ``..``, encoded slashes and other tricks never reach the file system.
Off loopback a token is required; on loopback the Host header must name this machine, which
stops a DNS-rebinding page from reading the board.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import monotonic
from types import TracebackType
from typing import Any, Self, cast

from leanforge.board import access, data, render
from leanforge.board.access import COOKIE, credentials, is_loopback, split_host
from leanforge.board.routes import Route, route, static_file, target_path
from leanforge.context import Forge
from leanforge.errors import UnknownTask

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
#: Seconds between state checks and between keep-alive comments on the event stream.
POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0

# Routing and access decisions live in their own modules; these names stay importable here.
__all__ = ["BoardServer", "is_loopback", "route", "split_host"]


class BoardServer:
    """Serve the board on ``host:port`` (0 picks a free port); use as a context manager."""

    def __init__(
        self, forge_factory: Callable[[], Forge], host: str, port: int, token: str | None
    ) -> None:
        if not is_loopback(host) and not token:
            raise ValueError(f"the board on {host} needs a token; only loopback may go without")
        self.forge_factory = forge_factory
        self.host = host
        self.token = token
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # The state's version, shared by every event stream: (when it was taken, it).
        self._version_lock = threading.Lock()
        self._version: tuple[float, str] | None = None
        self._version_forge: Forge | None = None
        self._httpd = _HTTPServer(self, host, port)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765/`` (no token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def share_url(self) -> str:
        """The URL to open: the base URL, with ``?token=`` when one is required."""
        return f"{self.url}?token={self.token}" if self.token else self.url

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.stopping.set()

    def start(self) -> Self:
        """Serve from a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open event streams, release the port."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def version(self) -> str:
        """:func:`data.version`, walked at most once per poll interval however many streams ask."""
        with self._version_lock:
            now = monotonic()
            if self._version is not None and now - self._version[0] < POLL_SECONDS:
                return self._version[1]
            if self._version_forge is None:
                # Only ever used under the lock: its pygit2 handles are never shared.
                self._version_forge = self.forge_factory()
            try:
                current = data.version(self._version_forge)
            except Exception:
                self._version_forge = None  # the next call starts afresh, as a new stream did
                raise
            self._version = (now, current)
            return current

    # -- decisions (pure over the request's parts) ------------------------------------------------

    def host_allowed(self, header: str | None) -> bool:
        """On loopback, the Host header must name this machine (DNS-rebinding defence)."""
        return access.host_allowed(self.host, self.port, header)

    def authorized(self, query_token: str | None, cookie: str | None, bearer: str | None) -> bool:
        return access.authorized(self.token, query_token, cookie, bearer)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: BoardServer, host: str, port: int) -> None:
        self.app = app
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.app.host, int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "forge-board"

    @property
    def app(self) -> BoardServer:
        return cast(_HTTPServer, self.server).app

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL and nothing per request."""

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def _refuse_method(self) -> None:
        self.close_connection = True  # its body, if any, is never read
        if self._gatekeep() is not None:
            self._send(405, "application/json", b'{"error": "method not allowed"}', allow=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    # -- the request ------------------------------------------------------------------------------

    def _gatekeep(self) -> str | None:
        """Host and token checks; the token given in the query (to set the cookie), or ""."""
        self._cookie = ""
        if not self.app.host_allowed(self.headers.get("Host")):
            self._send(403, "text/plain; charset=utf-8", b"forbidden host\n")
            return None
        given, cookie, bearer = credentials(
            self.path, self.headers.get("Cookie", ""), self.headers.get("Authorization", "")
        )
        if not self.app.authorized(given, cookie, bearer):
            message = b"a token is required: open the URL `forge board` printed\n"
            self._send(401, "text/plain; charset=utf-8", message)
            return None
        return given if given and self.app.token else ""

    def _handle(self, head: bool) -> None:
        token = self._gatekeep()
        if token is None:
            return
        self._cookie = token
        path = target_path(self.path)
        found = route(path)
        try:
            if found is None:
                self._missing(path.startswith("/api/"), "no such page", head)
            elif found.kind == "static":
                self._static(found.args[0], head)
            elif found.kind == "events":
                self._events(head)
            else:
                self._page(found, head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _page(self, found: Route, head: bool) -> None:
        api = found.kind == "api"
        try:
            payload = _payload(self.app.forge_factory(), found.page, found.args)
            if api:
                body = json.dumps(
                    {"text": payload} if found.page == "playbook" else payload,
                    sort_keys=True,
                    default=str,
                ).encode()
            else:
                body = _html(found.page, payload).encode()
        except (UnknownTask, LookupError) as exc:
            self._missing(api, str(exc), head)
            return
        except Exception as exc:  # the board shows the error; it never dies of one request
            message = f"{type(exc).__name__}: {exc}"
            print(f"board: {self.path.partition('?')[0]} failed: {message}", file=sys.stderr)
            if api:
                self._send(
                    500, "application/json", json.dumps({"error": message}).encode(), head=head
                )
            else:
                self._send(500, "text/plain; charset=utf-8", message.encode(), head=head)
            return
        kind = "application/json" if api else "text/html; charset=utf-8"
        self._send(200, kind, body, head=head)

    def _missing(self, api: bool, message: str, head: bool) -> None:
        if api:
            body = json.dumps({"error": message}).encode()
            self._send(404, "application/json", body, head=head)
        else:
            body = render.not_found(message).encode()
            self._send(404, "text/html; charset=utf-8", body, head=head)

    def _static(self, name: str, head: bool) -> None:
        found = static_file(name)
        if found is None:
            self._missing(False, "no such file", head)
            return
        path, kind = found
        self._send(200, kind, path.read_bytes(), head=head)

    def _events(self, head: bool) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self._set_cookie()
        self.end_headers()
        if head:
            return
        stopping = self.app.stopping
        last, quiet = "", 0.0
        while not stopping.is_set():
            try:
                current = self.app.version()
            except Exception as exc:  # end this stream; the page reconnects
                print(f"board: event stream ended: {exc}", file=sys.stderr)
                return
            if current != last:
                last, quiet = current, 0.0
                message = f"event: state\ndata: {json.dumps({'version': current})}\n\n"
                self.wfile.write(message.encode())
                self.wfile.flush()
            elif quiet >= HEARTBEAT_SECONDS:
                quiet = 0.0
                self.wfile.write(b": ping\n\n")
                self.wfile.flush()
            stopping.wait(POLL_SECONDS)
            quiet += POLL_SECONDS

    def _set_cookie(self) -> None:
        if getattr(self, "_cookie", ""):
            self.send_header(
                "Set-Cookie", f"{COOKIE}={self._cookie}; HttpOnly; SameSite=Strict; Path=/"
            )

    def _send(
        self, status: int, kind: str, body: bytes, head: bool = False, allow: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", "GET, HEAD")
        if status < 400:
            self._set_cookie()
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _payload(forge: Forge, page: str, args: tuple[str, ...]) -> Any:
    if page == "tasks":
        return data.task_rows(forge)
    if page == "task":
        return data.task_detail(forge, args[0])
    if page == "transcript":
        return data.transcript(forge, args[0], args[1])
    if page == "labs":
        return data.lab_rows(forge)
    if page == "lab":
        return data.lab_detail(forge, args[0])
    if page == "playbook":
        return data.playbook(forge)
    raise LookupError(page)


def _html(page: str, payload: Any) -> str:
    if page == "tasks":
        return render.tasks_page(payload)
    if page == "task":
        return render.task_page(payload)
    if page == "labs":
        return render.labs_page(payload)
    if page == "lab":
        return render.lab_page(payload)
    return render.playbook_page(payload)
