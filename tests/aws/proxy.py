"""A loopback proxy in front of moto's server that answers chosen AWS calls with an error.

moto's server mode cannot be told to throttle or deny one call, so this proxy forwards every
request to it unchanged, except the calls a test names: those get AWS's own error answer
(`ThrottlingException`, `AccessDeniedException`, or a bare 403 for S3's HEAD) a set number of times.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass
class Fault:
    call: str  # an X-Amz-Target ("secretsmanager.DescribeSecret"), else "METHOD /path" ("HEAD /bucket")
    code: str  # the error's __type (JSON protocols) or the HTTP status for S3 ("403")
    times: int  # how many matching requests get the error (then they pass)
    hits: int = 0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faults: list[Fault] = []
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, call: str, code: str, times: int = 1_000) -> Fault:
        fault = Fault(call, code, times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.calls.clear()

    def _fault_for(self, call: str) -> Fault | None:
        with self.lock:
            self.calls.append(call)
            for fault in self.faults:
                if fault.call == call and fault.hits < fault.times:
                    fault.hits += 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
                fault = proxy._fault_for(target)
                if fault is not None:
                    self._error(fault)
                    return
                self._forward(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

            def _error(self, fault: Fault) -> None:
                if fault.code.isdigit():
                    self.send_response(int(fault.code))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps({"__type": fault.code, "message": f"injected {fault.code}"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", fault.code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _forward(self, body: bytes) -> None:
                conn = http.client.HTTPConnection(
                    proxy.upstream.hostname or "", proxy.upstream.port, timeout=30
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                headers["Host"] = proxy.upstream.netloc
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

        return Handler
