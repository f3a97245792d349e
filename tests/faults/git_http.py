"""A git smart-HTTP server on loopback: `git http-backend` behind http.server, with faults on demand.

It serves the bare repos under one folder as `http://127.0.0.1:PORT/<name>.git`, asks for HTTP
Basic credentials (the renderer's header: `oauth2:<token>`), and can answer the first requests of
a push, or every request, with a status of the test's choosing.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class GitHttp:
    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"oauth2:{token}".encode()).decode()
        self.status_all: int | None = None  # answer every request with this status
        self.fail_pushes = 0  # answer this many push requests (service=git-receive-pack) with 502
        self.lose_answers = 0  # carry out this many pushes, then answer them with 502 all the same
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GitHttp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def pushes(self) -> int:
        return sum("git-receive-pack" in r for r in self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _plain(self, status: int, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self, method: str) -> None:
                push = "git-receive-pack" in self.path
                with srv.lock:
                    srv.requests.append(f"{method} {self.path}")
                    failing = push and srv.fail_pushes > 0
                    if failing:
                        srv.fail_pushes -= 1
                if srv.status_all is not None:
                    return self._plain(srv.status_all)
                if self.headers.get("Authorization") != srv.expected:
                    return self._plain(401, {"WWW-Authenticate": 'Basic realm="git"'})
                if failing:
                    return self._plain(502)
                self._cgi(method)

            def _cgi(self, method: str) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ["PATH"],
                    "GIT_PROJECT_ROOT": str(srv.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                    "REQUEST_METHOD": method,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": "oauth2",  # authenticated above: http-backend then allows pushes
                    "REMOTE_ADDR": "127.0.0.1",
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                proc = subprocess.run(
                    ["git", "http-backend"], input=body, capture_output=True, env=env, timeout=60
                )
                with srv.lock:
                    lost = method == "POST" and path.endswith("/git-receive-pack") and srv.lose_answers > 0
                    srv.lose_answers -= lost
                if lost:  # the refs are updated; the client never hears of it
                    return self._plain(502)
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
                status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() != "status":
                        self.send_header(key, value.strip())
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

        return Handler
