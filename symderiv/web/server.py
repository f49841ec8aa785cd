"""The HTTP server of ``symderiv serve``: the page, its static files, and the JSON API under ``/api/``.

The standard library's threading server; every API request is computed in a worker process of a
:class:`~symderiv.web.pool.Pool` under a wall-clock limit. Request bodies are capped at :data:`MAX_BODY` bytes,
only JSON objects of strings are read (nothing is evaluated), every response sets a strict
Content-Security-Policy, and on the loopback address a request must name it as its host (no DNS rebinding).

>>> app = App(Pool(size=1, limit=20.0))
>>> status, headers, body = app.post("/api/gradient", b'{"expr": "W @ X", "wrt": ["W"]}', "127.0.0.1:8000")
>>> status, json.loads(body)["formula"], headers["Content-Security-Policy"].split(";")[0]
(200, 'G @ X.T', "default-src 'none'")
>>> app.pool.close()
"""

from __future__ import annotations

import importlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from symderiv.web.pool import DEFAULT_MEMORY_MB, Busy, Pool

__all__ = ["App", "MAX_BODY", "HEADERS", "make_server", "serve"]

#: The largest request body read, in bytes.
MAX_BODY = 64 * 1024
STATIC = Path(__file__).resolve().parent / "static"
_FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/app.css": ("app.css", "text/css; charset=utf-8")}
#: Set on every response.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin"}
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}

Response = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return status, {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", **HEADERS}, body


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": {"message": message, "field": "form"}})


class App:
    """What the server answers, apart from the sockets (tests call :meth:`get` and :meth:`post` directly)."""

    def __init__(self, pool: Pool, loopback_only: bool = True) -> None:
        self.pool = pool
        self.loopback_only = loopback_only

    def allowed(self, host: str | None) -> bool:
        """On loopback, only requests addressed to the loopback name (a page elsewhere cannot rebind to us)."""
        if not self.loopback_only:
            return True
        name = (host or "").rsplit(":", 1)[0] if not (host or "").endswith("]") else (host or "")
        return name in _LOOPBACK

    def get(self, path: str, host: str | None) -> Response:
        if not self.allowed(host):
            return _error(403, "this server answers only requests to 127.0.0.1")
        entry = _FILES.get(path.split("?", 1)[0])
        if entry is None:
            return _error(404, "not found")
        name, kind = entry
        return 200, {"Content-Type": kind, "Cache-Control": "no-cache", **HEADERS}, (STATIC / name).read_bytes()

    def post(self, path: str, body: bytes, host: str | None) -> Response:
        if not self.allowed(host):
            return _error(403, "this server answers only requests to 127.0.0.1")
        if not path.startswith("/api/"):
            return _error(404, "not found")
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(400, "the request body must be a JSON object")
        try:
            answer = self.pool.run(path[len("/api/"):], request)
        except Busy:
            return _error(503, "the server is busy; try again in a moment")
        if answer is None:
            return _error(504, f"the computation overran its limit of {self.pool.limit:g} s and was stopped; "
                               "try smaller shapes or a simpler expression")
        return _json(*answer)


class _Handler(BaseHTTPRequestHandler):
    app: App
    timeout = 15  # seconds a client may take to send its request
    server_version = "symderiv"
    sys_version = ""
    quiet = False

    def _send(self, response: Response) -> None:
        status, headers, body = response
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self._send(self.app.get(self.path, self.headers.get("Host")))

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(_error(411, "a Content-Length is required"))
            return
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(_error(413, f"the request body is limited to {MAX_BODY} bytes"))
            return
        self._send(self.app.post(self.path, self.rfile.read(length), self.headers.get("Host")))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        if not self.quiet:
            sys.stderr.write("symderiv serve: " + format % args + "\n")


def make_server(host: str = "127.0.0.1", port: int = 8000, *, workers: int = 2, limit: float = 10.0,
                quiet: bool = False, memory_mb: int | None = DEFAULT_MEMORY_MB) -> ThreadingHTTPServer:
    """A server (not yet serving) with its worker pool; ``port=0`` picks a free port.

    >>> server = make_server(port=0, workers=1, quiet=True)
    >>> server.server_address[0], server.app.loopback_only
    ('127.0.0.1', True)
    >>> server.server_close(); server.app.pool.close()
    """
    app = App(Pool(size=workers, limit=limit, memory_mb=memory_mb), loopback_only=host in ("127.0.0.1", "localhost", "::1"))
    handler = type("Handler", (_Handler,), {"app": app, "quiet": quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.app = app  # type: ignore[attr-defined]
    return server


def serve(host: str = "127.0.0.1", port: int = 8000, *, open_browser: bool = False, workers: int = 2,
          limit: float = 10.0, memory_mb: int | None = DEFAULT_MEMORY_MB) -> None:
    """Serve until interrupted; with ``open_browser`` open the page in the default browser."""
    server = make_server(host, port, workers=workers, limit=limit, memory_mb=memory_mb)
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{server.server_address[1]}/"
    sys.stderr.write(f"symderiv serve: {url}  ({workers} workers, {limit:g} s per request; Ctrl-C stops)\n")
    if open_browser:
        importlib.import_module("webbrowser").open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.pool.close()  # type: ignore[attr-defined]
