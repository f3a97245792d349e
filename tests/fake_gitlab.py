"""A loopback HTTP server with the GitLab REST endpoints the renderer calls, for python-gitlab."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "glpat-test-secret-token"
OTHER_TOKEN = "glpat-another-users-token"  # a second user: anyone can write a note with our marker
USERS = {
    TOKEN: {"id": 7, "username": "renderer-bot", "name": "platform renderer"},
    OTHER_TOKEN: {"id": 8, "username": "mallory", "name": "Mallory"},
}
NOTE_LIMIT = 1_000_000  # GitLab refuses a longer note body


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up waiting (a timeout test) closed its end: nothing to report


class FakeGitLab:
    def __init__(self, repo: Path | None = None) -> None:
        self.repo = repo  # the project's bare repo: MR heads and diffs come from it when given
        self.statuses: dict[str, dict[str, dict[str, Any]]] = {}  # sha → name → the latest status
        self.clock = 0  # seconds into 2026: every note and status is one tick later than the last
        self.mrs: list[dict[str, Any]] = []
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.fail_next = 0  # answer this many requests with `fail_status` first
        self.fail_status = 502
        self.retry_after: str | None = None  # the Retry-After header sent with each failure
        self.delay = 0.0  # seconds every request waits before its answer
        self.slow_next: int | None = None  # only this many requests wait `delay` (None: all of them)
        self.late_posts = 0  # this many POSTs are carried out, then answered `delay` seconds late
        self.requests: list[str] = []
        self.times: list[float] = []  # time.monotonic() of each request, for backoff checks
        self.lock = threading.Lock()
        handler = self._handler()
        self.server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def now(self) -> str:
        """GitLab's timestamp format; strictly increasing, so order is never a matter of luck."""
        self.clock += 1
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.clock)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def set_status(self, sha: str, name: str, state: str) -> None:
        """What Atlantis does through `POST /projects/:id/statuses/:sha`."""
        with self.lock:
            self.statuses.setdefault(sha, {})[name] = {
                "name": name,
                "status": state,
                "created_at": self.now(),
            }

    def head(self, branch: str) -> str:
        """The branch's commit in the project's repo (a merged, deleted branch: zeros, as no commit)."""
        if self.repo is None:
            return "0" * 40
        proc = subprocess.run(
            ["git", "-C", str(self.repo), "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() or "0" * 40

    def _diffs(self, mr: dict[str, Any]) -> list[dict[str, Any]]:
        if self.repo is None:
            return []
        out = self._git(
            "diff", "--name-only", "--no-renames", f"{mr['target_branch']}...{mr['source_branch']}"
        )
        return [{"old_path": p, "new_path": p} for p in out.splitlines()]

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.repo), *args], capture_output=True, text=True, check=True
        ).stdout

    def __enter__(self) -> FakeGitLab:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            user: dict[str, Any] = {}  # who the request's token is (set per request)

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                """Keep the answer: it is sent once the routing has let go of the lock."""
                self.answer = (status, body)

            def _answer(self, method: str) -> None:
                self._route(method)
                status, body = self.answer
                with fake.lock:
                    late = method == "POST" and fake.late_posts > 0
                    fake.late_posts -= late
                if late:
                    time.sleep(fake.delay)
                data = json.dumps(body).encode()
                self.send_response(status)
                if status >= 400 and fake.retry_after is not None:
                    self.send_header("Retry-After", fake.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    return dict(json.loads(raw or b"{}"))
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

            def _route(self, method: str) -> None:
                with fake.lock:
                    fake.requests.append(f"{method} {self.path}")
                    fake.times.append(time.monotonic())
                    failing = fake.fail_next > 0
                    if failing:
                        fake.fail_next -= 1
                    slow = fake.delay > 0 and (fake.slow_next is None or fake.slow_next > 0)
                    if fake.slow_next:
                        fake.slow_next -= 1
                if slow:
                    time.sleep(fake.delay)
                if failing:
                    return self._reply(fake.fail_status, {"message": f"{fake.fail_status} failing"})
                user = USERS.get(self.headers.get("PRIVATE-TOKEN") or "")
                if user is None:
                    return self._reply(401, {"message": "401 Unauthorized"})
                self.user = user
                url = urlparse(self.path)
                if url.path == "/api/v4/user" and method == "GET":
                    return self._reply(200, {**user, "state": "active"})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if self._commit_route(method, url.path):
                    return None
                m = re.fullmatch(
                    r"/api/v4/projects/([^/]+)/merge_requests(?:/(\d+))?(/notes|/diffs)?"
                    r"(?:/(\d+))?",
                    url.path,
                )
                if not m:
                    return self._reply(404, {"message": "404 Not Found"})
                iid = int(m.group(2)) if m.group(2) else None
                with fake.lock:
                    if m.group(3) == "/diffs":
                        found_mr = next((x for x in fake.mrs if x["iid"] == iid), None)
                        return self._reply(200, fake._diffs(found_mr) if found_mr else [])
                    if m.group(3):
                        return self._notes(method, iid or 0, m.group(4))
                    if method == "GET" and iid is None:
                        found = [
                            mr
                            for mr in fake.mrs
                            if all(
                                str(mr.get(k)) == v
                                for k, v in query.items()
                                if k in ("source_branch", "target_branch", "state")
                            )
                        ]
                        return self._reply(200, [{**x, "sha": fake.head(x["source_branch"])} for x in found])
                    if method == "POST":
                        body = self._body()
                        taken = [
                            m["iid"]
                            for m in fake.mrs
                            if m["state"] == "opened" and m.get("source_branch") == body.get("source_branch")
                        ]
                        if taken:  # as GitLab: one open MR per source branch
                            exists = "Another open merge request already exists for this source branch"
                            return self._reply(409, {"message": [f"{exists}: !{taken[0]}"]})
                        mr = {
                            "id": len(fake.mrs) + 100,
                            "iid": len(fake.mrs) + 1,
                            "state": "opened",
                            "author": dict(self.user),
                            "web_url": f"{fake.url}/env/-/merge_requests/{len(fake.mrs) + 1}",
                            **body,
                        }
                        mr["draft"] = str(mr.get("title", "")).startswith("Draft:")
                        fake.mrs.append(mr)
                        return self._reply(201, mr)
                    mr = next((x for x in fake.mrs if x["iid"] == iid), None)
                    if mr is None:
                        return self._reply(404, {"message": "404 Not Found"})
                    if method == "PUT":
                        body = self._body()
                        if body.pop("state_event", None) == "close":  # as GitLab: closing is an event
                            mr["state"] = "closed"
                        mr.update(body)
                    mr["draft"] = str(mr.get("title", "")).startswith("Draft:")
                    return self._reply(200, {**mr, "sha": fake.head(mr["source_branch"])})

            def _commit_route(self, method: str, path: str) -> bool:
                """A commit's statuses: Atlantis posts them, a bot reads the latest of each name."""
                read = re.fullmatch(r"/api/v4/projects/[^/]+/repository/commits/([0-9a-f]+)/statuses", path)
                write = re.fullmatch(r"/api/v4/projects/[^/]+/statuses/([0-9a-f]+)", path)
                if read and method == "GET":
                    with fake.lock:
                        self._reply(200, list(fake.statuses.get(read.group(1), {}).values()))
                    return True
                if write and method == "POST":
                    body = self._body()
                    fake.set_status(write.group(1), str(body.get("name", "default")), str(body.get("state")))
                    self._reply(201, fake.statuses[write.group(1)][str(body.get("name", "default"))])
                    return True
                return False

            def _notes(self, method: str, iid: int, note_id: str | None) -> None:
                notes = fake.notes.setdefault(iid, [])
                if method == "GET":
                    return self._reply(200, notes)
                body = self._body() if method in ("POST", "PUT") else {}
                if len(str(body.get("body", ""))) > NOTE_LIMIT:
                    return self._reply(
                        400, {"message": {"note": ["is too long (maximum is 1000000 characters)"]}}
                    )
                if method == "POST":
                    note = {
                        "id": sum(len(n) for n in fake.notes.values()) + 1,
                        "author": dict(self.user),
                        "system": False,
                        "created_at": fake.now(),
                        **body,
                    }
                    notes.append(note)
                    return self._reply(201, note)
                note = next((n for n in notes if str(n["id"]) == note_id), None)
                if note is None:
                    return self._reply(404, {"message": "404 Note Not Found"})
                if note["author"]["id"] != self.user["id"]:  # as GitLab: only the author edits a note
                    return self._reply(403, {"message": "403 Forbidden"})
                note.update(body)
                return self._reply(200, note)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._answer("PUT")

        return Handler
