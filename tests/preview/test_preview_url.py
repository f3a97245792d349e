"""A preview's URL is read from its render (`render.routes`), never guessed: `renderer preview`, the
`--dotenv` file GitLab's environment link takes, and who a preview is charged to."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from renderer.cli.preview import dotenv_text
from renderer.data import Json
from renderer.publish.preview_urls import Located
from renderer.render.routes import urls
from tests.conftest import write

Cli = Callable[..., Result]

QUIET_APP = """\
apiVersion: score.dev/v1b1
metadata:
  name: worker
containers:
  worker:
    image: ghcr.io/example/worker:1.0.0
    resources:
      limits: {cpu: 100m, memory: 64Mi}
"""


def ingress(host: Json, path: str = "/", tls: bool = True) -> Json:
    rule = {"host": host, "http": {"paths": [{"path": path}]}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "spec": {"rules": [rule], **({"tls": [{"hosts": [host]}]} if tls else {})},
    }


def test_routes_of_every_kind_root_first_then_by_url() -> None:
    docs: dict[str, Json] = {
        "kubernetes/preview/a/x/ingress-b.yaml": ingress("b.example.com", "/api"),
        "kubernetes/preview/a/x/ingress-plain.yaml": ingress("plain.example.com", tls=False),
        "kubernetes/preview/a/y/httproute.yaml": {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "spec": {"hostnames": ["gw.example.com"], "rules": [{"matches": [{"path": {"value": "/v1"}}]}]},
        },
        "kubernetes/preview/a/z/route.yaml": {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "spec": {"host": "os.example.com", "tls": {"termination": "edge"}},
        },
        "kubernetes/preview/other/ingress.yaml": ingress("other.example.com"),  # another scope
        "kubernetes/preview/a/x/not-an-ingress.yaml": {"apiVersion": "v1", "kind": "Service", "spec": {}},
    }
    assert urls(docs, "kubernetes/preview/a/") == [
        "http://plain.example.com/",
        "https://os.example.com/",
        "https://b.example.com/api",
        "https://gw.example.com/v1",
    ]


def test_hosts_and_paths_that_are_not_plain_are_never_taken() -> None:
    hostile: dict[str, Json] = {
        "k/a/1.yaml": ingress("*.example.com"),
        "k/a/2.yaml": ingress("evil.example.com>) [x](https://phish.example"),
        "k/a/3.yaml": ingress("evil.example.com\nRENDERER_PREVIEW_URL=https://phish.example"),
        "k/a/4.yaml": ingress({"host": "nested"}),
        "k/a/5.yaml": ingress("ok.example.com", "/a b)<script>"),
        "k/a/6.yaml": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": "junk"}},
    }
    assert urls(hostile, "k/a/") == ["https://ok.example.com/"]  # its path was not plain: the root


def test_the_preview_command_prints_and_writes_the_url_publish_would_route(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    dotenv = tmp_path / "preview.env"
    app = str(project / "examples/apps/shop")
    args = ("preview", "--root", str(project), "--app", app, "--mr", "7")
    result = cli(*args, "--dotenv", str(dotenv), "--app-id", "group/shop")
    assert result.exit_code == 0, result.output
    lines = dotenv.read_text().splitlines()
    assert lines[0] == "RENDERER_PREVIEW_NAME=preview-shop-7"
    assert lines[1].startswith("RENDERER_PREVIEW_URL=https://web-") and lines[1].endswith(
        ".preview.apps.example.com/"
    )
    assert result.output.splitlines()[0] == f"preview: {lines[1].split('=', 1)[1]}"
    as_json = json.loads(cli(*args, "--format", "json").output)
    assert as_json["preview_url"] == lines[1].split("=", 1)[1] and len(as_json["preview_urls"]) == 2


def test_a_preview_that_routes_nothing_says_so_and_sets_no_url(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    app = tmp_path / "apps" / "quiet"
    write(app / "score.yaml", QUIET_APP)
    dotenv = tmp_path / "preview.env"
    result = cli("preview", "--root", str(project), "--app", str(app), "--mr", "4", "--dotenv", str(dotenv))
    assert result.exit_code == 0, result.output
    assert result.output == "preview: preview-quiet-4: no route (its render has no Ingress or HTTPRoute)\n"
    assert dotenv.read_text() == "RENDERER_PREVIEW_NAME=preview-quiet-4\n"
    assert "no route" in Located("preview-quiet-4", ()).markdown()
    assert dotenv_text(Located("p-1", ("https://a.example.com/",))).endswith(
        "RENDERER_PREVIEW_URL=https://a.example.com/\n"
    )


def test_a_usage_error_for_a_bad_merge_request(cli: Cli, project: Path) -> None:
    app = str(project / "examples/apps/shop")
    result = cli("preview", "--root", str(project), "--app", app, "--mr", "0")
    assert result.exit_code == 2, result.output
    assert "give the merge request's IID" in result.output


def test_a_preview_that_does_not_render_is_refused_by_preview_and_reported_by_diff(
    cli: Cli, project: Path, bare_repo: Path
) -> None:
    """billing writes a cluster-only secret into a file: its preview does not render (exit 3, as
    `publish --preview` would); `diff --preview` still shows its diff and says why there is no URL."""
    billing = str(project / "examples/apps/billing")
    refused = cli("preview", "--root", str(project), "--app", billing, "--mr", "8")
    assert refused.exit_code == 3, refused.output
    assert "cannot be placed inside file content" in refused.output
    args = ("diff", "--root", str(project), "--env-repo", str(bare_repo), "--env", "dev", "--app", billing)
    shown = cli(*args, "--preview", "8", "--format", "json")
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert (
        body["preview"] == "preview-billing-8" and body["preview_url"] is None and body["preview_urls"] == []
    )
    assert "cannot be placed inside file content" in body["preview_problem"]
    assert body["changes"]  # the diff itself is all there
    note = cli(*args, "--preview", "8", "--format", "markdown")
    assert (
        "Preview environment `preview-billing-8`: does not render in the preview environment:" in note.output
    )
