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


# Each case: an id, the document, and the verdict of upstream's schema
# (../shared/score/spec/score-v1b1.json), computed once with jsonschema and recorded here so that
# the test needs nothing outside this checkout. Where ../shared exists,
# test_recorded_verdicts_agree_with_upstream checks the recorded verdicts against it again.
OWN_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("minimal", BASE, True),
    ("api-version-v1b2", _with(["apiVersion"], "score.dev/v1b2"), False),
    ("name-not-rfc1123", _with(["metadata", "name"], "Bad_Name"), False),
    ("name-one-char", _with(["metadata", "name"], "a"), False),
    ("metadata-extra-key", _with(["metadata", "extra"], {"any": "thing"}), True),
    ("annotation-key-space", _with(["metadata", "annotations"], {"x": "short key"}), False),
    ("annotation-prefixed-key", _with(["metadata", "annotations"], {"example.com/ok-key": "v"}), True),
    ("annotation-value-int", _with(["metadata", "annotations"], {"ok": 1}), False),
    ("containers-empty", _with(["containers"], {}), False),
    ("image-empty", _with(["containers", "main", "image"], ""), False),
    ("image-dot", _with(["containers", "main", "image"], "."), True),
    ("container-unknown-field", _with(["containers", "main", "unknown"], True), False),
    ("variable-name-equals", _with(["containers", "main", "variables"], {"A=B": "x"}), False),
    ("variable-value-int", _with(["containers", "main", "variables"], {"A": 1}), False),
    (
        "file-content-and-source",
        _with(["containers", "main", "files"], {"/a": {"content": "x", "source": "y"}}),
        False,
    ),
    ("file-mode-only", _with(["containers", "main", "files"], {"/a": {"mode": "0644"}}), False),
    (
        "file-mode-three-digits",
        _with(["containers", "main", "files"], {"/a": {"content": "x", "mode": "644"}}),
        True,
    ),
    (
        "file-mode-not-octal",
        _with(["containers", "main", "files"], {"/a": {"content": "x", "mode": "0999"}}),
        False,
    ),
    (
        "file-map-with-target",
        _with(["containers", "main", "files"], {"/a": {"content": "x", "target": "/a"}}),
        False,
    ),
    (
        "files-list-with-target",
        _with(["containers", "main", "files"], [{"target": "/a", "content": "x"}]),
        True,
    ),
    ("files-list-without-target", _with(["containers", "main", "files"], [{"content": "x"}]), True),
    (
        "volume-read-only-string",
        _with(["containers", "main", "volumes"], {"/v": {"source": "x", "readOnly": "yes"}}),
        False,
    ),
    (
        "volumes-list",
        _with(["containers", "main", "volumes"], [{"source": "x", "target": "/v"}]),
        True,
    ),
    (
        "volume-snake-case-read-only",
        _with(["containers", "main", "volumes"], {"/v": {"source": "x", "read_only": True}}),
        False,
    ),
    (
        "limits-fractional",
        _with(["containers", "main", "resources"], {"limits": {"cpu": "1.5", "memory": "1.5Gi"}}),
        True,
    ),
    ("cpu-not-a-quantity", _with(["containers", "main", "resources"], {"limits": {"cpu": "abc"}}), False),
    (
        "memory-leading-zero",
        _with(["containers", "main", "resources"], {"limits": {"memory": "01Gi"}}),
        False,
    ),
    ("probe-empty", _with(["containers", "main", "livenessProbe"], {}), False),
    (
        "probe-http-without-path",
        _with(["containers", "main", "livenessProbe"], {"httpGet": {"port": 80}}),
        False,
    ),
    (
        "probe-scheme-ftp",
        _with(
            ["containers", "main", "livenessProbe"],
            {"httpGet": {"port": 80, "path": "/", "scheme": "FTP"}},
        ),
        False,
    ),
    (
        "probe-exec",
        _with(["containers", "main", "readinessProbe"], {"exec": {"command": ["true"]}}),
        True,
    ),
    ("before-complete", _with(["containers", "main", "before"], {"other": {"ready": "complete"}}), True),
    ("before-unknown-ready", _with(["containers", "main", "before"], {"other": {"ready": "done"}}), False),
    ("service-port-zero", _with(["service"], {"ports": {"web": {"port": 0}}}), False),
    (
        "service-protocol-sctp",
        _with(["service"], {"ports": {"web": {"port": 80, "protocol": "SCTP"}}}),
        False,
    ),
    (
        "service-port-full",
        _with(["service"], {"ports": {"web": {"port": 80, "targetPort": 8080, "protocol": "UDP"}}}),
        True,
    ),
    (
        "resource-type-class-id",
        _with(["resources"], {"db": {"type": "postgres", "class": "large", "id": "main.db"}}),
        True,
    ),
    ("resource-without-type", _with(["resources"], {"db": {"class": "large"}}), False),
    ("resource-id-leading-dash", _with(["resources"], {"db": {"type": "postgres", "id": "-bad"}}), False),
    (
        "resource-params-string",
        _with(["resources"], {"db": {"type": "postgres", "params": "string"}}),
        False,
    ),
    (
        "resource-annotations",
        _with(["resources"], {"db": {"type": "postgres", "metadata": {"annotations": {"k1": "v"}}}}),
        True,
    ),
    ("top-level-unknown-field", _with(["extra"], 1), False),
]

CASES_DIR = Path(__file__).resolve().parent / "cases" / "score"
# Our own Score files; each sits in valid/ or invalid/ by upstream's verdict, checked once with
# jsonschema when it was written (and again by test_recorded_verdicts_agree_with_upstream).
CASE_FILES = sorted(CASES_DIR.glob("*/*.yaml"))


def _case_id(path: Path) -> str:
    return str(path.relative_to(CASES_DIR))


def _only_doc(path: Path) -> Any:
    docs = load_text(path.read_text(encoding="utf-8"), str(path))
    assert len(docs) == 1, f"{path}: one YAML document per case file"
    return docs[0].data


@pytest.mark.parametrize(("data", "upstream_valid"), [pytest.param(d, v, id=i) for i, d, v in OWN_CASES])
def test_own_cases_match_upstream_verdict(data: dict[str, Any], upstream_valid: bool) -> None:
    assert schema.is_valid("score-v1b1", data) is upstream_valid


@pytest.mark.parametrize("path", CASE_FILES, ids=_case_id)
def test_own_score_files_match_their_folder(path: Path) -> None:
    ours = schema.is_valid("score-v1b1", _only_doc(path))
    assert ours is (path.parent.name == "valid"), f"our schema calls it {'valid' if ours else 'invalid'}"


def _keys(docs: list[Any], *path: str) -> set[str]:
    """Every key found at `path` (a `*` matches every key or list item) in the documents."""
    found: set[str] = set()

    def walk(node: Any, rest: tuple[str, ...]) -> None:
        if not rest:
            if isinstance(node, dict):
                found.update(node)
            elif isinstance(node, list):
                for item in node:
                    walk(item, rest)
            return
        if rest[0] == "*":
            children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
            for child in children:
                walk(child, rest[1:])
        elif isinstance(node, dict) and rest[0] in node:
            walk(node[rest[0]], rest[1:])

    for doc in docs:
        walk(doc, path)
    return found


def test_own_score_files_cover_every_field() -> None:
    assert {p.name for p in CASES_DIR.iterdir()} == {"valid", "invalid"}
    valid_files = sorted((CASES_DIR / "valid").glob("*.yaml"))
    invalid = sorted((CASES_DIR / "invalid").glob("*.yaml"))
    assert len(valid_files) >= 10 and len(invalid) >= 40
    for path in invalid:
        assert path.read_text(encoding="utf-8").startswith("# "), f"{path}: say why it is invalid"
    valid = [_only_doc(path) for path in valid_files]
    container = ("containers", "*")
    # "target" is valid only in the deprecated list forms, so finding it below means they are covered
    assert _keys(valid, *container) == {
        "image",
        "command",
        "args",
        "variables",
        "files",
        "volumes",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "before",
    }
    assert _keys(valid, *container, "files", "*") == {
        "content",
        "binaryContent",
        "source",
        "mode",
        "noExpand",
        "target",
    }
    assert _keys(valid, *container, "volumes", "*") == {"source", "path", "readOnly", "target"}
    assert _keys(valid, *container, "resources") == {"limits", "requests"}
    assert _keys(valid, *container, "resources", "*") == {"cpu", "memory"}
    assert _keys(valid, *container, "livenessProbe") | _keys(valid, *container, "readinessProbe") == {
        "httpGet",
        "exec",
    }
    assert _keys(valid, *container, "livenessProbe", "httpGet") == {
        "host",
        "scheme",
        "path",
        "port",
        "httpHeaders",
    }
    assert _keys(valid, "service", "ports", "*") == {"port", "protocol", "targetPort"}
    assert _keys(valid, "resources", "*") == {"type", "class", "id", "params", "metadata"}
    assert "annotations" in _keys(valid, "metadata")
    assert "annotations" in _keys(valid, "resources", "*", "metadata")


def _upstream(shared_score: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads((shared_score / "spec" / "score-v1b1.json").read_text()))


def test_recorded_verdicts_agree_with_upstream(shared_score: Path) -> None:
    """The verdicts recorded above, and our schema's, are upstream's (needs ../shared)."""
    upstream = _upstream(shared_score)
    cases = [(i, d, v) for i, d, v in OWN_CASES]
    cases += [(_case_id(p), _only_doc(p), p.parent.name == "valid") for p in CASE_FILES]
    wrong = [i for i, d, v in cases if upstream.is_valid(d) is not v]
    assert wrong == [], "recorded verdicts that upstream's schema does not give"
    ours = [i for i, d, _ in cases if schema.is_valid("score-v1b1", d) is not upstream.is_valid(d)]
    assert ours == [], "cases where our schema and upstream's disagree"


def test_agrees_with_upstream_on_every_shared_file(shared_score: Path) -> None:
    upstream = _upstream(shared_score)
    files = sorted(shared_score.rglob("*.yaml"))
    assert len(files) > 30
    for file in files:
        for doc in load_text(file.read_text(), str(file)):
            assert schema.is_valid("score-v1b1", doc.data) == upstream.is_valid(doc.data), file


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
        "spec: examples/apps/shop/score.yaml:8 at containers.main.variables.X: placeholder "
        "${resources.cache.host} names no resource of this workload: 'cache' (known: db) (write $$ "
        "for a literal $)",
    ),
    (
        "    variables:\n      X: ${resources.db}\n",
        "platform: examples/apps/shop/score.yaml:8 at containers.main.variables.X: invalid ref "
        "'resources.db': a resource itself can only be used as a volume source; name one of its "
        "outputs (use $$ for a literal $)",
    ),
    (
        "    variables:\n      X: ${metadata.nope}\n",
        "platform: examples/apps/shop/score.yaml:8 at containers.main.variables.X: invalid ref "
        "'metadata.nope': metadata has no key 'nope' (use $$ for a literal $)",
    ),
    (
        "    variables:\n      X: ${metadata.name.deeper}\n",
        "platform: examples/apps/shop/score.yaml:8 at containers.main.variables.X: invalid ref "
        "'metadata.name.deeper': cannot look up 'deeper': metadata.name is not a map (use $$ for a "
        "literal $)",
    ),
    (
        '    args: ["${env.HOME}"]\n',
        "platform: examples/apps/shop/score.yaml:7 at containers.main.args[0]: invalid ref "
        "'env.HOME': unknown reference root 'env', use $$ to escape (use $$ for a literal $)",
    ),
    (
        "    before:\n      ghost:\n        ready: complete\n",
        "spec: examples/apps/shop/score.yaml:8 at containers.main.before.ghost: 'before' names no "
        "container of this workload: 'ghost' (known: main)",
    ),
    (
        "    files:\n      /etc/a:\n        source: missing.txt\n",
        'platform: examples/apps/shop/score.yaml:9 at containers.main.files["/etc/a"].source: file '
        "source 'missing.txt' does not exist (paths are relative to the app directory)",
    ),
    (
        "    files:\n      relative/path:\n        content: x\n",
        'platform: examples/apps/shop/score.yaml:8 at containers.main.files["relative/path"]: file '
        "target 'relative/path' must be an absolute path",
    ),
    (
        "    files:\n      /etc/a:\n        binaryContent: '***'\n",
        'platform: examples/apps/shop/score.yaml:9 at containers.main.files["/etc/a"].binaryContent: '
        "binaryContent is not valid standard base64",
    ),
    (
        "    files:\n      /etc/a:\n        content: x\n        source: y\n",
        'spec: examples/apps/shop/score.yaml:8 at containers.main.files["/etc/a"]: exactly one of '
        "content, binaryContent, source must be given (see the schema score-v1b1)",
    ),
    (
        "    files:\n      - content: x\n",
        "spec: examples/apps/shop/score.yaml:8 at containers.main.files[0]: a list item needs "
        "'target', a string (the path in the container)",
    ),
    (
        "    volumes:\n      /data:\n        source: ${resources.other}\n",
        'spec: examples/apps/shop/score.yaml:9 at containers.main.volumes["/data"].source: placeholder '
        "${resources.other} names no resource of this workload: 'other' (known: db) (write $$ for a "
        "literal $)",
    ),
    (
        "    volumes:\n      /data:\n        source: plain-name\n",
        'platform: examples/apps/shop/score.yaml:9 at containers.main.volumes["/data"].source: '
        "volume source 'plain-name' must be ${resources.NAME} of a declared resource",
    ),
    (
        "    unknown: 1\n",
        "spec: examples/apps/shop/score.yaml:7 at containers.main.unknown: unknown field ('unknown' "
        "was unexpected) (see the schema score-v1b1)",
    ),
    (
        "    variables:\n      X: ${metadata}\n",
        "spec: examples/apps/shop/score.yaml:8 at containers.main.variables.X: placeholder "
        "${metadata} is malformed: it needs two or more parts joined by '.', each of letters, "
        "digits, '_' or '-' (write $$ for a literal $)",
    ),
    (
        "    variables:\n      X: ${resources}\n",
        "spec: examples/apps/shop/score.yaml:8 at containers.main.variables.X: placeholder "
        "${resources} is malformed: it needs two or more parts joined by '.', each of letters, "
        "digits, '_' or '-' (write $$ for a literal $)",
    ),
    (
        "    files:\n      - {target: /a, content: x}\n      - {target: /a, content: y}\n",
        "platform: examples/apps/shop/score.yaml:9 at containers.main.files[1].target: target '/a' "
        "is given twice",
    ),
    (
        "    volumes:\n      data:\n        source: ${resources.db}\n",
        "platform: examples/apps/shop/score.yaml:8 at containers.main.volumes.data: volume target "
        "'data' must be an absolute path",
    ),
    (
        "    files:\n      /data:\n        content: x\n    volumes:\n      /data/:\n"
        "        source: ${resources.db}\n",
        "platform: examples/apps/shop/score.yaml:11 at containers.main.volumes[\"/data/\"]: '/data/' "
        "is already mounted as a file",
    ),
    (
        "    before:\n      main:\n        ready: complete\n",
        "spec: examples/apps/shop/score.yaml:8 at containers.main.before.main: container 'main' "
        "lists itself in 'before'",
    ),
    (
        "service:\n  ports:\n    alt: {port: 80}\n    web: {port: 80}\n",
        "platform: examples/apps/shop/score.yaml:10 at service.ports.web.port: port 80/TCP is also "
        "published by 'alt' (give each service port a distinct number)",
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


def test_nested_metadata_references_name_the_map_they_look_in(
    project: Path, cli: Callable[..., Result]
) -> None:
    score = WORKLOAD.format(
        extra="    variables:\n      X: ${metadata.annotations.nope}\n      Y: ${metadata.annotations.ab.c}\n"
    ).replace("  name: web\n", '  name: web\n  annotations: {"ab": x}\n')
    _app(project, score)
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID, result.output
    assert result.output.splitlines()[:2] == [
        "platform: examples/apps/shop/score.yaml:9 at containers.main.variables.X: invalid ref "
        "'metadata.annotations.nope': metadata.annotations has no key 'nope' (use $$ for a literal $)",
        "platform: examples/apps/shop/score.yaml:10 at containers.main.variables.Y: invalid ref "
        "'metadata.annotations.ab.c': cannot look up 'c': metadata.annotations.ab is not a map "
        "(use $$ for a literal $)",
    ]


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
    assert (
        "spec: examples/apps/shop/score.yaml:4 at containers.aa.before: the 'before' entries form a cycle "
        "(containers on or between cycles: aa, bb, cc)" in result.output.splitlines()
    )


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
