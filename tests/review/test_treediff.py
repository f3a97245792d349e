"""Two trees compared as data: scopes, kinds, order, and no secret material in any diff."""

from __future__ import annotations

import json

from renderer.inputs.yamlio import dump
from renderer.review import treediff
from renderer.review.treediff import compare, scope_of

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dev
spec:
  replicas: 1
  template:
    spec:
      containers:
      - image: registry.example.com/shop/web:1.0
        name: web
"""
# the same object: other key order, flow style, other quoting
DEPLOY_REORDERED = """kind: Deployment
spec: {template: {spec: {containers: [{name: web, image: "registry.example.com/shop/web:1.0"}]}}, replicas: 1}
metadata: {namespace: shop-dev, name: 'web'}
apiVersion: apps/v1
"""
SECRET = """apiVersion: v1
kind: Secret
metadata: {{name: db, namespace: shop-dev}}
data: {{password: {pw}, user: YXBw}}
stringData: {{token: {token}}}
"""
MAIN_TF = {"module": {"db": {"source": "../modules/rds", "size": 20}}, "terraform": {"backend": {}}}


def tree(**files: str) -> dict[str, bytes]:
    return {path.replace("__", "/").replace("_DOT_", "."): text.encode() for path, text in files.items()}


BASE = {
    "atlantis.yaml": b"version: 3\nprojects: []\n",
    "kubernetes/dev/shop/web/deployment-web.yaml": DEPLOY.encode(),
    "kubernetes/dev/shop/kustomization.yaml": b"kind: Kustomization\nresources: [web/deployment-web.yaml]\n",
    "kubernetes/dev/kustomization.yaml": b"kind: Kustomization\nresources: [shop/]\n",
    "terraform/dev/shop/main.tf.json": json.dumps(MAIN_TF).encode(),
    "terraform/dev/modules/rds/main.tf.json": b'{"variable": {"size": {}}}',
    ".render/apps/shop/score.yaml": b"anything: at all\n",
}


def test_identical_trees_give_an_empty_diff() -> None:
    diff = compare(BASE, dict(BASE))
    assert diff.empty and diff.changes == () and diff.summary() == ()
    assert treediff.text(diff) == "no changes\n"


def test_key_order_and_formatting_are_never_a_change() -> None:
    new = dict(BASE)
    new["kubernetes/dev/shop/web/deployment-web.yaml"] = DEPLOY_REORDERED.encode()
    new["terraform/dev/shop/main.tf.json"] = json.dumps(MAIN_TF, indent=4, sort_keys=True).encode()
    assert compare(BASE, new).empty


def test_bookkeeping_is_ignored() -> None:
    new = {**BASE, ".render/apps/shop/score.yaml": b"changed: yes\n", ".render/owners.json": b"{}"}
    assert compare(BASE, new).empty


def test_a_changed_value_shows_as_that_line_of_that_object() -> None:
    new = dict(BASE)
    new["kubernetes/dev/shop/web/deployment-web.yaml"] = DEPLOY.replace("replicas: 1", "replicas: 2").encode()
    diff = compare(BASE, new)
    (change,) = diff.changes
    assert (change.scope, change.path, change.status, change.kind, change.name) == (
        "dev/shop",
        "kubernetes/dev/shop/web/deployment-web.yaml",
        "changed",
        "Deployment",
        "web",
    )
    changed = [
        line for line in change.diff.splitlines() if line[:1] in ("+", "-") and line[:3] not in ("+++", "---")
    ]
    assert changed == ["-  replicas: 1", "+  replicas: 2"]
    assert change.diff.startswith(
        "--- a/kubernetes/dev/shop/web/deployment-web.yaml\n"
        "+++ b/kubernetes/dev/shop/web/deployment-web.yaml\n"
    )


def test_types_count_even_where_python_says_equal() -> None:
    """`1`, `1.0` and `true` are equal in Python; in YAML and JSON they are three values."""
    for value in ("1.0", "true"):
        new = {
            **BASE,
            "kubernetes/dev/shop/web/deployment-web.yaml": DEPLOY.replace(
                "replicas: 1", f"replicas: {value}"
            ).encode(),
        }
        assert [c.status for c in compare(BASE, new).changes] == ["changed"], value


def test_scopes_kinds_order_and_summary() -> None:
    new = dict(BASE)
    del new["terraform/dev/modules/rds/main.tf.json"]
    new["terraform/dev/shop/main.tf.json"] = json.dumps({**MAIN_TF, "module": {"db": {"size": 30}}}).encode()
    new["kubernetes/dev/_shared/namespace-platform.yaml"] = (
        b"apiVersion: v1\nkind: Namespace\nmetadata: {name: platform}\n"
    )
    new["kubernetes/dev/kustomization.yaml"] = b"kind: Kustomization\nresources: [_shared/, shop/]\n"
    new["atlantis.yaml"] = b"version: 3\nprojects: [{dir: terraform/dev/shop}]\n"
    new["terraform/prod/modules/vpc/main.tf.json"] = b"{}"
    diff = compare(BASE, new)
    assert [(c.scope, c.path, c.status, c.kind) for c in diff.changes] == [
        ("dev", "kubernetes/dev/kustomization.yaml", "changed", "Kustomization"),
        ("dev/_shared", "kubernetes/dev/_shared/namespace-platform.yaml", "added", "Namespace"),
        ("dev/shop", "terraform/dev/shop/main.tf.json", "changed", "terraform"),
        ("repo", "atlantis.yaml", "changed", "atlantis"),
        ("terraform/dev/modules", "terraform/dev/modules/rds/main.tf.json", "removed", "terraform-module"),
        ("terraform/prod/modules", "terraform/prod/modules/vpc/main.tf.json", "added", "terraform-module"),
    ]
    summary = {s.scope: s for s in diff.summary()}
    assert (summary["dev/shop"].changed, summary["dev/shop"].projects) == (1, ("terraform/dev/shop",))
    assert summary["terraform/dev/modules"].modules == ("terraform/dev/modules/rds",)
    assert summary["terraform/prod/modules"].modules == ("terraform/prod/modules/vpc",)
    assert summary["dev/_shared"].added == 1 and summary["dev/_shared"].projects == ()
    text = treediff.text(diff)
    assert "terraform/dev/modules: 0 added, 0 changed, 1 removed; modules terraform/dev/modules/rds" in text


def test_scope_of() -> None:
    assert scope_of("kubernetes/prod/billing/ledger/statefulset-ledger.yaml") == "prod/billing"
    assert scope_of("kubernetes/prod/_shared/kafka/topic.yaml") == "prod/_shared"
    assert scope_of("terraform/prod/_shared/main.tf.json") == "prod/_shared"
    assert scope_of("clusters/prod/flux-system/kustomization.yaml") == "prod"
    assert scope_of("terraform/dev/modules/s3-bucket/main.tf.json") == "terraform/dev/modules"
    assert scope_of("atlantis.yaml") == "repo"


def test_a_secret_never_shows_its_values() -> None:
    old_pw, new_pw, token = "aHVudGVyMg==", "Y29ycmVjdGhvcnNl", "s3cr3t-t0ken-value"
    old = {"kubernetes/dev/shop/web/secret-db.yaml": SECRET.format(pw=old_pw, token=token).encode()}
    new = {"kubernetes/dev/shop/web/secret-db.yaml": SECRET.format(pw=new_pw, token=token).encode()}
    (change,) = compare(old, new).changes
    for value in (old_pw, new_pw, token, "YXBw"):
        assert value not in change.diff
    assert "-  password: '<redacted: 12 bytes, old value>'" in change.diff
    assert "+  password: '<redacted: 16 bytes, new value>'" in change.diff
    assert "   user: '<redacted: 4 bytes, unchanged>'" in change.diff  # context, not a change


def test_a_secret_value_changed_to_one_of_the_same_size_still_shows() -> None:
    old = {"s.yaml": SECRET.format(pw="AAAA", token="x").encode()}
    new = {"s.yaml": SECRET.format(pw="BBBB", token="x").encode()}
    (change,) = compare(old, new).changes
    assert "AAAA" not in change.diff and "BBBB" not in change.diff
    assert change.added_lines == change.removed_lines == 1


def test_an_added_or_removed_secret_shows_no_value() -> None:
    secret = {
        "kubernetes/dev/shop/web/secret-db.yaml": SECRET.format(pw="cGFzc3dvcmQ=", token="tok3n").encode()
    }
    for diff in (compare({}, secret), compare(secret, {})):
        (change,) = diff.changes
        assert "cGFzc3dvcmQ=" not in change.diff and "tok3n" not in change.diff
        assert "<redacted: 12 bytes, " in change.diff


def test_lines_the_secret_scan_flags_are_masked() -> None:
    key = "AKIAIOSFODNN7EXAMPLE"
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {AWS_KEY: %s, other: plain}\n"
    diff = compare({}, {"kubernetes/dev/shop/web/configmap-c.yaml": (cm % key).encode()})
    (change,) = diff.changes
    assert key not in change.diff
    assert "+ <masked: looks like a secret (AWS Access Key)>" in change.diff
    assert "+  other: plain" in change.diff


def test_the_renderers_own_credentials_are_masked() -> None:
    token = "glpat-abcdefghijklmnopqrst"
    new = {"kubernetes/dev/shop/web/configmap-c.yaml": f"kind: ConfigMap\ndata: {{x: {token}}}\n".encode()}
    (change,) = compare({}, new, sensitive=[token]).changes
    assert token not in change.diff and "+  x: ***\n" in change.diff


def test_files_that_do_not_parse_compare_as_text() -> None:
    old = {"kubernetes/dev/shop/notes.yaml": b"a: [\n", "bin.dat": b"\xff\x00"}
    new = {"kubernetes/dev/shop/notes.yaml": b"a: [b\n", "bin.dat": b"\xff\x01\x02"}
    diff = compare(old, new)
    assert [(c.path, c.kind) for c in diff.changes] == [
        ("kubernetes/dev/shop/notes.yaml", "file"),
        ("bin.dat", "file"),
    ]
    assert "+(binary file, 3 bytes)" in diff.changes[1].diff
    assert "+a: [b" in diff.changes[0].diff


def test_json_shape() -> None:
    new = {**BASE, "kubernetes/dev/shop/web/deployment-web.yaml": DEPLOY.replace("1.0", "1.1").encode()}
    data = treediff.as_json(compare(BASE, new, warnings=["WARN something"], target="main"))
    assert json.loads(json.dumps(data)) == data
    assert data["empty"] is False and data["warnings"] == ["WARN something"]
    assert data["summary"] == [
        {
            "scope": "dev/shop",
            "added": 0,
            "changed": 1,
            "removed": 0,
            "terraform_projects": [],
            "terraform_modules": [],
        }
    ]
    (change,) = data["changes"]  # type: ignore[misc]
    assert sorted(change) == ["diff", "kind", "name", "path", "scope", "status", "target"]
    assert (
        change["target"] == "main" and "+      - image: registry.example.com/shop/web:1.1" in change["diff"]
    )


def test_canonical_dump_is_the_renderers_dumper() -> None:
    """Both sides are dumped by yamlio.dump: a diff line reads as the file a publish writes."""
    (change,) = compare({}, {"k.yaml": DEPLOY_REORDERED.encode()}).changes
    body = "".join(line[1:] + "\n" for line in change.diff.splitlines()[3:])
    assert body == dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop-dev"},
            "spec": {
                "replicas": 1,
                "template": {
                    "spec": {"containers": [{"image": "registry.example.com/shop/web:1.0", "name": "web"}]}
                },
            },
        }
    )


def test_a_secret_in_json_or_in_a_list_shows_no_value() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dmFsdWUtb25l"}}
    changed = {**secret, "data": {"k": "dmFsdWUtdHdv"}}
    as_json = compare({"s.json": json.dumps(secret).encode()}, {"s.json": json.dumps(changed).encode()})
    listed = compare(
        {"l.yaml": dump({"kind": "List", "items": [secret]}).encode()},
        {"l.yaml": dump({"kind": "List", "items": [changed]}).encode()},
    )
    for diff in (as_json, listed):
        (change,) = diff.changes
        assert "dmFsdWUtb25l" not in change.diff and "dmFsdWUtdHdv" not in change.diff
        assert "<redacted: 12 bytes, old value>" in change.diff
        assert "<redacted: 12 bytes, new value>" in change.diff


def test_a_secret_that_does_not_parse_is_not_shown_at_all() -> None:
    broken = "kind: Secret\ndata: {password: aHVudGVyMg==\n"  # an unclosed flow mapping
    (change,) = compare({}, {"kubernetes/dev/shop/web/secret-x.yaml": broken.encode()}).changes
    assert "aHVudGVyMg==" not in change.diff
    assert "+(a file that does not parse and may hold a Secret, 43 bytes: not shown)" in change.diff
