"""The local web server behind ``bwcolor edit``: its page, and an API over an EditSession.

Safe by default: it listens on 127.0.0.1; every request must carry the session's random token
(``?token=`` or the ``X-Bwcolor-Token`` header) and a Host header naming this server (a web page
elsewhere cannot reach it by DNS rebinding); it serves only its own three files and the photos
it was given, by index (no path from a request ever reaches the file system); request bodies are
limited to :data:`MAX_BODY` bytes; a malformed request gets one error reply, never a crash.

Routes (``N``: a photo's index):

======  ===========================  ===========================================================
GET     ``/``                        the page (``edit.html``); ``/edit.js``, ``/edit.css`` its parts
GET     ``/api/photos``              ``{"photos": [name, ...]}``
GET     ``/api/photo/N``             name, size and the hints saved beside it
GET     ``/api/photo/N/gray.jpg``    the photo at preview size
GET     ``/api/photo/N/strokes.png`` its saved strokes (404 if none)
POST    ``/api/photo/N/preview``     ``{"points": [...], "strokes": PNG as base64 or null}`` -> JPEG
POST    ``/api/photo/N/suggest``     ``{"x": .., "y": ..}`` -> ``{"colours": [{"color", "p"}, ...]}``
POST    ``/api/photo/N/save``        ``{"points", "strokes", "output": bool}`` -> what was written
======  ===========================  ===========================================================
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from bwcolor.edit.session import EditSession
from bwcolor.errors import ImageError
from bwcolor.files.hints import HintError

#: Largest request body accepted (a strokes PNG of a large scan is a few megabytes).
MAX_BODY = 64 << 20
PAGE_FILES = {"/": ("edit.html", "text/html; charset=utf-8"), "/edit.js": ("edit.js", "text/javascript"),
              "/edit.css": ("edit.css", "text/css")}  # fmt: skip
PHOTO_ROUTE = re.compile(r"/api/photo/(\d{1,9})(?:/(gray\.jpg|strokes\.png|preview|suggest|save))?")


class RequestError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class EditServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: EditSession, host: str = "127.0.0.1", port: int = 0):
        self.session = session
        self.token = secrets.token_urlsafe(24)
        super().__init__((host, port), _Handler)
        self.allowed_hosts = {f"{name}:{self.server_port}" for name in ("127.0.0.1", "localhost", host)}

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.server_port}/?token={self.token}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="bwcolor-edit", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: EditServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # the terminal shows the URL and errors, not every request

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _answer(self, route) -> None:
        try:
            path = self._checked_path()
            status, kind, body = route(path)
        except RequestError as exc:
            status, kind, body = exc.status, "application/json", _json({"error": str(exc)})
        except (HintError, ImageError) as exc:
            status, kind, body = HTTPStatus.BAD_REQUEST, "application/json", _json({"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one reply, the server goes on
            status, kind = HTTPStatus.INTERNAL_SERVER_ERROR, "application/json"
            body = _json({"error": f"unexpected {type(exc).__name__}: {exc}"})
        if status >= 400:  # the body may be unread: this connection is done
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:")
        self.end_headers()
        self.wfile.write(body)

    def _checked_path(self) -> str:
        """The request's path, once its Host and token are this server's."""
        if self.headers.get("Host", "") not in self.server.allowed_hosts:
            raise RequestError(HTTPStatus.FORBIDDEN, "unknown Host")
        url = urlsplit(self.path)
        token = self.headers.get("X-Bwcolor-Token") or parse_qs(url.query).get("token", [""])[0]
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong token")
        return url.path

    def _get(self, path: str):
        if path in PAGE_FILES:
            name, kind = PAGE_FILES[path]
            page = resources.files("bwcolor.edit.web").joinpath(name).read_bytes()
            return HTTPStatus.OK, kind, page.replace(b"__TOKEN__", self.server.token.encode())
        session = self.server.session
        if path == "/api/photos":
            names = [str(p.source.relative) for p in session.photos]
            return HTTPStatus.OK, "application/json", _json({"photos": names})
        index, part = self._photo(path)
        if part is None:
            return HTTPStatus.OK, "application/json", _json(session.describe(index))
        if part == "gray.jpg":
            return HTTPStatus.OK, "image/jpeg", session.gray_jpeg(index)
        if part == "strokes.png":
            png = session.strokes_png(index)
            if png is None:
                raise RequestError(HTTPStatus.NOT_FOUND, "no strokes saved")
            return HTTPStatus.OK, "image/png", png
        raise RequestError(HTTPStatus.METHOD_NOT_ALLOWED, f"{part} takes POST")

    def _post(self, path: str):
        index, part = self._photo(path)
        data = self._body()
        session = self.server.session
        if part == "suggest":
            x, y = data.get("x"), data.get("y")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
                raise RequestError(HTTPStatus.BAD_REQUEST, "x and y must be numbers")
            return HTTPStatus.OK, "application/json", _json({"colours": session.suggest(index, x, y)})
        if part not in ("preview", "save"):
            raise RequestError(HTTPStatus.METHOD_NOT_ALLOWED, "GET only")
        points = data.get("points", [])
        if not isinstance(points, list):
            raise RequestError(HTTPStatus.BAD_REQUEST, "points must be a list")
        hints = session.hints(index, points, _png(data.get("strokes")))
        if part == "preview":
            return HTTPStatus.OK, "image/jpeg", session.preview_jpeg(index, hints)
        return HTTPStatus.OK, "application/json", _json(session.save(index, hints, bool(data.get("output"))))

    def _photo(self, path: str) -> tuple[int, str | None]:
        found = PHOTO_ROUTE.fullmatch(path)
        if not found:
            raise RequestError(HTTPStatus.NOT_FOUND, "no such page")
        index = int(found.group(1))
        if index >= len(self.server.session):
            raise RequestError(HTTPStatus.NOT_FOUND, f"no photo {index}")
        return index, found.group(2)

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length required") from None
        if not 0 <= length <= MAX_BODY:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a request body is at most {MAX_BODY} bytes"
            )
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return data


def _png(value) -> bytes | None:
    """Strokes as sent: None, or a PNG in base64 (a data URL's prefix allowed)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise RequestError(HTTPStatus.BAD_REQUEST, "strokes must be a base64 PNG")
    try:
        return base64.b64decode(value.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(HTTPStatus.BAD_REQUEST, "strokes are not base64") from None


def _json(data) -> bytes:
    return json.dumps(data).encode()
