"""Score validation: agreement with the upstream schema, upgrades, and every semantic error."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from jsonschema import Draft202012Validator

from renderer.errors import EXIT_INVALID
from renderer.inputs import schema
from renderer.inputs.score import upgrade
from renderer.inputs.yamlio import load_text
from tests.conftest import write

BASE: dict[str, Any] = {
    "apiVersion": "score.dev/v1b1",
    "metadata": {"name": "demo"},
    "containers": {"main": {"image": "busybox"}},
}


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return doc


OWN_CASES: list[dict[str, Any]] = [
    BASE,
    _with(["apiVersion"], "score.dev/v1b2"),
    _with(["metadata", "name"], "Bad_Name"),
    _with(["metadata", "name"], "a"),
    _with(["metadata", "extra"], {"any": "thing"}),
    _with(["metadata", "annotations"], {"x": "short key"}),
    _with(["metadata", "annotations"], {"example.com/ok-key": "v"}),
    _with(["metadata", "annotations"], {"ok": 1}),
    _with(["containers"], {}),
    _with(["containers", "main", "image"], ""),
    _with(["containers", "main", "image"], "."),
    _with(["containers", "main", "unknown"], True),
    _with(["containers", "main", "variables"], {"A=B": "x"}),
    _with(["containers", "main", "variables"], {"A": 1}),
    _with(["containers", "main", "files"], {"/a": {"content": "x", "source": "y"}}),
    _with(["containers", "main", "files"], {"/a": {"mode": "0644"}}),
    _with(["containers", "main", "files"], {"/a": {"content": "x", "mode": "644"}}),
    _with(["containers", "main", "files"], {"/a": {"content": "x", "mode": "0999"}}),
    _with(["containers", "main", "files"], {"/a": {"content": "x", "target": "/a"}}),
    _with(["containers", "main", "files"], [{"target": "/a", "content": "x"}]),
    _with(["containers", "main", "files"], [{"content": "x"}]),
    _with(["containers", "main", "volumes"], {"/v": {"source": "x", "readOnly": "yes"}}),
    _with(["containers", "main", "volumes"], [{"source": "x", "target": "/v"}]),
    _with(["containers", "main", "volumes"], {"/v": {"source": "x", "read_only": True}}),
    _with(["containers", "main", "resources"], {"limits": {"cpu": "1.5", "memory": "1.5Gi"}}),
    _with(["containers", "main", "resources"], {"limits": {"cpu": "abc"}}),
    _with(["containers", "main", "resources"], {"limits": {"memory": "01Gi"}}),
    _with(["containers", "main", "livenessProbe"], {}),
    _with(["containers", "main", "livenessProbe"], {"httpGet": {"port": 80}}),
    _with(
        ["containers", "main", "livenessProbe"],
        {"httpGet": {"port": 80, "path": "/", "scheme": "FTP"}},
    ),
    _with(["containers", "main", "readinessProbe"], {"exec": {"command": ["true"]}}),
    _with(["containers", "main", "before"], {"other": {"ready": "complete"}}),
    _with(["containers", "main", "before"], {"other": {"ready": "done"}}),
    _with(["service"], {"ports": {"web": {"port": 0}}}),
    _with(["service"], {"ports": {"web": {"port": 80, "protocol": "SCTP"}}}),
    _with(["service"], {"ports": {"web": {"port": 80, "targetPort": 8080, "protocol": "UDP"}}}),
    _with(["resources"], {"db": {"type": "postgres", "class": "large", "id": "main.db"}}),
    _with(["resources"], {"db": {"class": "large"}}),
    _with(["resources"], {"db": {"type": "postgres", "id": "-bad"}}),
    _with(["resources"], {"db": {"type": "postgres", "params": "string"}}),
    _with(["resources"], {"db": {"type": "postgres", "metadata": {"annotations": {"k1": "v"}}}}),
    _with(["extra"], 1),
]


def _upstream(shared_score: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads((shared_score / "spec" / "score-v1b1.json").read_text()))


def test_agrees_with_upstream_on_every_shared_file(shared_score: Path) -> None:
    upstream = _upstream(shared_score)
    files = sorted(shared_score.rglob("*.yaml"))
    assert len(files) > 30
    for file in files:
        for doc in load_text(file.read_text(), str(file)):
            assert schema.is_valid("score-v1b1", doc.data) == upstream.is_valid(doc.data), file


@pytest.mark.parametrize("case", range(len(OWN_CASES)))
def test_agrees_with_upstream_on_own_cases(shared_score: Path, case: int) -> None:
    data = OWN_CASES[case]
    assert schema.is_valid("score-v1b1", data) == _upstream(shared_score).is_valid(data)


def test_deprecated_lists_and_read_only_are_upgraded() -> None:
    data = _with(["containers", "main", "files"], [{"target": "/a", "content": "x"}])
    data["containers"]["main"]["volumes"] = [{"target": "/v", "source": "vol", "read_only": True}]
    upgraded, issues = upgrade(data)
    assert issues == []
    main = upgraded["containers"]["main"]
    assert main["files"] == {"/a": {"content": "x"}}
    assert main["volumes"] == {"/v": {"source": "vol", "readOnly": True}}


def _app(project: Path, text: str, name: str = "score.yaml") -> Path:
    app = project / "examples" / "apps" / "shop"
    shutil.rmtree(app)
    write(app / name, text)
    return app


WORKLOAD = """apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  main:
    image: ghcr.io/example/web:1.0.0
{extra}resources:
  db:
    type: postgres
"""

SEMANTIC_CASES = [
    (
        "    variables:\n      X: ${resources.cache.host}\n",
        "examples/apps/shop/score.yaml:8 at containers.main.variables.X: invalid ref "
        "'resources.cache.host': no resource 'cache' is declared (known: db) (use $$ for a literal $)",
    ),
    (
        "    variables:\n      X: ${resources.db}\n",
        "examples/apps/shop/score.yaml:8 at containers.main.variables.X: invalid ref 'resources.db': "
        "a resource itself can only be used as a volume source; name one of its outputs "
        "(use $$ for a literal $)",
    ),
    (
        "    variables:\n      X: ${metadata.nope}\n",
        "examples/apps/shop/score.yaml:8 at containers.main.variables.X: invalid ref "
        "'metadata.nope': metadata has no key 'nope' (use $$ for a literal $)",
    ),
    (
        '    args: ["${env.HOME}"]\n',
        "examples/apps/shop/score.yaml:7 at containers.main.args[0]: invalid ref 'env.HOME': "
        "unknown reference root 'env', use $$ to escape (use $$ for a literal $)",
    ),
    (
        "    before:\n      ghost:\n        ready: complete\n",
        "examples/apps/shop/score.yaml:8 at containers.main.before.ghost: no container 'ghost' in "
        "this workload (known: main)",
    ),
    (
        "    files:\n      /etc/a:\n        source: missing.txt\n",
        'examples/apps/shop/score.yaml:9 at containers.main.files["/etc/a"].source: file source '
        "'missing.txt' does not exist next to the Score file (paths are relative to the Score "
        "file's directory)",
    ),
    (
        "    files:\n      relative/path:\n        content: x\n",
        'examples/apps/shop/score.yaml:8 at containers.main.files["relative/path"]: file target '
        "'relative/path' must be an absolute path",
    ),
    (
        "    files:\n      /etc/a:\n        binaryContent: '***'\n",
        'examples/apps/shop/score.yaml:9 at containers.main.files["/etc/a"].binaryContent: '
        "binaryContent is not valid standard base64",
    ),
    (
        "    files:\n      /etc/a:\n        content: x\n        source: y\n",
        'examples/apps/shop/score.yaml:8 at containers.main.files["/etc/a"]: exactly one of '
        "content, binaryContent, source must be given (see the schema score-v1b1)",
    ),
    (
        "    files:\n      - content: x\n",
        "examples/apps/shop/score.yaml:8 at containers.main.files[0]: a list item needs 'target' "
        "(the path in the container)",
    ),
    (
        "    volumes:\n      /data:\n        source: ${resources.other}\n",
        'examples/apps/shop/score.yaml:9 at containers.main.volumes["/data"].source: volume '
        "source names undeclared resource 'other'",
    ),
    (
        "    volumes:\n      /data:\n        source: plain-name\n",
        'examples/apps/shop/score.yaml:9 at containers.main.volumes["/data"].source: volume '
        "source 'plain-name' must be ${resources.NAME} of a declared resource",
    ),
    (
        "    unknown: 1\n",
        "examples/apps/shop/score.yaml:7 at containers.main.unknown: unknown field ('unknown' was "
        "unexpected) (see the schema score-v1b1)",
    ),
]


@pytest.mark.parametrize(("extra", "message"), SEMANTIC_CASES)
def test_semantic_errors_are_exact(
    project: Path, cli: Callable[..., Result], extra: str, message: str
) -> None:
    _app(project, WORKLOAD.format(extra=extra))
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID, result.output
    assert message in result.output.splitlines(), result.output


def test_before_cycle_names_every_member(project: Path, cli: Callable[..., Result]) -> None:
    _app(
        project,
        """apiVersion: score.dev/v1b1
metadata: {name: web}
containers:
  aa: {image: x/a:1, before: {bb: {ready: complete}}}
  bb: {image: x/b:1, before: {cc: {ready: complete}}}
  cc: {image: x/c:1, before: {aa: {ready: complete}}}
""",
    )
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert "'before' forms a cycle: aa → bb → cc → aa" in result.output


def test_duplicate_keys_and_every_error_at_once(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project, "apiVersion: score.dev/v1b1\nmetadata: {name: web}\nmetadata: {name: x}\n")
    write(app / "score-b.yaml", WORKLOAD.format(extra="    variables: {X: ${metadata.bad}}\n"))
    result = cli("validate", "--root", str(project), "--format", "json")
    assert result.exit_code == EXIT_INVALID
    report = json.loads(result.output)
    files = [(p["file"], p["line"]) for p in report["problems"]]
    assert files == [("examples/apps/shop/score-b.yaml", 7), ("examples/apps/shop/score.yaml", 3)]
    assert report["problems"][1]["message"].startswith("duplicate key")


def test_yaml_12_yes_stays_a_string(project: Path, cli: Callable[..., Result]) -> None:
    _app(project, WORKLOAD.format(extra="    variables:\n      ENABLED: yes\n      PORT: 80\n"))
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    # `yes` is a string under YAML 1.2 and passes; the integer does not
    assert "containers.main.variables.PORT: 80 is not of type 'string'" in result.output
    assert "ENABLED" not in result.output


def test_image_dot_needs_an_image_at_render(
    project: Path, cli: Callable[..., Result], tmp_path: Path
) -> None:
    _app(project, WORKLOAD.format(extra="").replace("ghcr.io/example/web:1.0.0", "."))
    out = tmp_path / "out"
    result = cli("render", "--root", str(project), "--env", "dev", "--out", str(out))
    assert result.exit_code == EXIT_INVALID
    assert (
        "examples/apps/shop/score.yaml:6 at containers.main.image: image is '.', which means "
        "'built from this repo' (give it with --image web=<registry>/<repo>:<tag>)" in result.output
    )
    assert not out.exists()
    ok = cli(
        "render",
        "--root",
        str(project),
        "--env",
        "dev",
        "--out",
        str(out),
        "--image",
        "web=registry.example.com/web:2.0.0",
    )
    assert ok.exit_code == 0, ok.output
    assert (
        "image: registry.example.com/web:2.0.0"
        in (out / "kubernetes/dev/shop/web/deployment-web.yaml").read_text()
    )
