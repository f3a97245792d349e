"""The fast schema check (jsonschema-rs) is trusted only for a yes: it must agree with jsonschema."""

from __future__ import annotations

import copy

import jsonschema
import jsonschema_rs
import pytest

from renderer import pipeline
from renderer.checks import crdschema, kubeschema
from renderer.data import Json
from renderer.inputs import app_repo, platform_config, schema
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def objects() -> list[tuple[str, dict[str, Json]]]:
    platform = platform_config.load_platform(str(ROOT))
    apps = app_repo.load_apps(
        [str(ROOT / "examples/apps/shop"), str(ROOT / "examples/apps/billing")], str(ROOT)
    )
    rendered = pipeline.run(platform, apps, None, pipeline.Options(skip_checks_for_tests=True))
    out = []
    for env in rendered.envs:
        minor = env.env.kubernetes_version
        out += [
            (minor, copy.deepcopy(dict(obj)))
            for path, obj in env.documents.items()
            if path.startswith("kubernetes/") and isinstance(obj, dict) and "kind" in obj
        ]
    return out


def both(minor: str, obj: dict[str, Json]) -> tuple[bool, bool]:
    api, kind = str(obj["apiVersion"]), str(obj["kind"])
    version = kubeschema.schema_version(minor)
    assert version is not None
    slow = kubeschema._validator(version, api, kind)
    assert slow is not None, (api, kind)
    return kubeschema._valid_fast(minor, api, kind, obj), not list(slow.iter_errors(obj))


def builtin(objects: list[tuple[str, dict[str, Json]]]) -> list[tuple[str, dict[str, Json]]]:
    return [(m, o) for m, o in objects if "." not in str(o["apiVersion"]).rpartition("/")[0]]


def test_the_examples_are_valid_for_both(objects: list[tuple[str, dict[str, Json]]]) -> None:
    checked = builtin(objects)
    assert len(checked) > 20
    for minor, obj in checked:
        assert both(minor, obj) == (True, True), (obj["kind"], obj.get("metadata"))


@pytest.mark.parametrize(
    "breakage",
    ["wrong type", "unknown field", "wrong nested type", "bad enum"],
)
def test_a_broken_object_is_never_a_fast_yes(
    objects: list[tuple[str, dict[str, Json]]], breakage: str
) -> None:
    minor, deployment = next((m, o) for m, o in builtin(objects) if o["kind"] == "Deployment")
    obj = copy.deepcopy(deployment)
    spec = obj["spec"]
    assert isinstance(spec, dict)
    if breakage == "wrong type":
        spec["replicas"] = "three"
    elif breakage == "unknown field":
        spec["replicaz"] = 3
    elif breakage == "wrong nested type":
        template = spec["template"]
        assert isinstance(template, dict) and isinstance(template["spec"], dict)
        template["spec"]["containers"] = {"not": "a list"}
    else:
        obj["apiVersion"] = "apps/v1"
        spec["strategy"] = {"type": 7}
    assert both(minor, obj) == (False, False)


def test_no_fast_path_where_jsonschema_rs_reads_a_pattern_more_loosely() -> None:
    """ECMA-262's `\\s` lacks U+001C-U+001F and U+0085, so `[^\\s]` lets through what Python's
    refuses: a schema with such a pattern (ExternalSecret's `schedule`) is checked by jsonschema
    alone; one without keeps the fast path."""
    loose = {"type": "string", "pattern": "^[^\\s]+$"}
    assert jsonschema_rs.Draft4Validator(loose).is_valid("a\x1cb")
    assert not jsonschema.Draft4Validator(loose).is_valid("a\x1cb")
    assert not schema.reads_alike({"properties": {"schedule": loose}})
    assert not schema.reads_alike({"type": "number", "multipleOf": 0.01})
    assert schema.reads_alike({"properties": {"multipleOf": {"type": "number"}, "pattern": {}}})
    assert crdschema._fast("external-secrets", "2.9.0", "external-secrets.io/v1", "ExternalSecret") is None
    monitor = crdschema._fast("prometheus-operator", "0.93.0", "monitoring.coreos.com/v1", "ServiceMonitor")
    assert monitor is not None
