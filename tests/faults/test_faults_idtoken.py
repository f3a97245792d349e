"""The ID token's key fetch under faults: a GitLab instance that is slow or not there is a publish
failure to run again (exit 5), never a denial and never a hang."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from click.testing import Result

from renderer.adapters import idtoken
from renderer.errors import EXIT_PUBLISH, EXIT_USAGE
from tests.conftest import ROOT

TOKEN = jwt.encode(
    {"sub": "x"}, "not-the-instance-key-but-32-bytes-long", algorithm="HS256", headers={"kid": "k1"}
)


@pytest.fixture
def slow_instance() -> Iterator[str]:
    """A GitLab instance whose key endpoint answers after two seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            time.sleep(30)  # far past every timeout below: a client that waits shows
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_keys_that_do_not_come_in_time(slow_instance: str) -> None:
    started = time.monotonic()
    with pytest.raises(idtoken.KeysUnavailable) as err:
        idtoken.verify(TOKEN, slow_instance, "renderer", timeout=0.3)
    assert time.monotonic() - started < 15  # not waited out (30 s): a bound, not a speed
    assert str(err.value).startswith(
        f"could not fetch the signing keys from {slow_instance}/oauth/discovery/keys within 0.3 s: "
        "Fail to fetch data from the url, err: "
    )
    assert str(err.value).endswith("; run the job again") and err.value.exit_code == EXIT_PUBLISH


def test_an_instance_that_is_not_there(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CI_SERVER_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ID_TOKEN", TOKEN)
    result = cli("identity", "--root", str(ROOT), "--id-token-var", "ID_TOKEN")
    assert result.exit_code == EXIT_PUBLISH
    assert result.output.startswith(
        f"error: could not fetch the signing keys from http://127.0.0.1:{port}/oauth/discovery/keys "
        "within 10 s: Fail to fetch data from the url, err: "
    ), result.output
    assert "Connection refused" in result.output


@pytest.mark.parametrize("command", ["identity", "publish"])
def test_the_key_fetch_timeout_comes_from_the_environment(
    command: str,
    slow_instance: str,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CI_SERVER_URL", slow_instance)
    monkeypatch.setenv("ID_TOKEN", TOKEN)
    monkeypatch.setenv("RENDERER_OIDC_TIMEOUT", "0.3")
    args = ["--root", str(ROOT), "--id-token-var", "ID_TOKEN"]
    if command == "publish":
        args += ["--env-repo", str(tmp_path / "none.git"), "--all-apps"]
    started = time.monotonic()
    result = cli(command, *args)
    assert result.exit_code == EXIT_PUBLISH, result.output
    assert "within 0.3 s" in result.output and time.monotonic() - started < 15  # not the 30 s
    monkeypatch.setenv("RENDERER_OIDC_TIMEOUT", "soon")
    refused = cli(command, *args)
    assert refused.exit_code == EXIT_USAGE
    assert "RENDERER_OIDC_TIMEOUT='soon': give a number of seconds greater than 0" in refused.output
