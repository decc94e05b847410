"""A small HTTP server on 127.0.0.1 for the fakes that sit beside real adapters.

The Messages API fake (``agent/fake_server.py``) and the GitHub fake (``github/fake_server.py``)
both subclass :class:`LocalServer`: it binds a free port, serves from a daemon thread, and hands
each request to the subclass's :meth:`LocalServer.answer`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast


@dataclass(frozen=True)
class Answer:
    """A response: status, headers, body chunks (flushed one by one), and a delay before it."""

    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    delay: float = 0.0


class LocalServer:
    """Serve :meth:`answer` on 127.0.0.1 at a random port; use as a context manager."""

    _httpd: _HTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123``."""
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Answer one request (``target`` is the path with its query; header names lower-case)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind a free port and serve from a daemon thread."""
        if self._httpd is None:
            self._httpd = _HTTPServer(self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: LocalServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: stderr belongs to the tests and benchmarks using the server."""

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        app = cast(_HTTPServer, self.server).app
        response = app.answer(self.command, self.path, headers, raw)
        # Sleep outside the app's lock, so a client that timed out can retry while this one waits.
        time.sleep(response.delay)
        self.close_connection = True
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(sum(map(len, response.chunks))))
            self.send_header("connection", "close")
            self.end_headers()
            for chunk in response.chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing is left to tell it
