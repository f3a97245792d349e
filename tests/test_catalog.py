"""The Backstage catalog rendered from the graph: per environment and app a System, a Component per
workload, a Resource per provisioned node, dependsOn from the graph, the owner from trust.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from renderer import pipeline
from renderer.checks import findings
from renderer.checks.catalog import check_catalog
from renderer.data import Json
from renderer.errors import PolicyDenied
from renderer.inputs import roots as settings
from renderer.publish.bookkeeping import owned_prefixes
from renderer.render.catalog import component_name, entity_name, resource_name
from renderer.resolve.graph import Node, shared_uid
from renderer.resolve.matching import Match
from tests.conftest import ROOT

TRUST = yaml.safe_load((ROOT / "platform-config" / "trust.yaml").read_text())["ownership"]
TEAM_OF = {app: name for name, t in TRUST["teams"].items() for app in t.get("apps", [])}


@pytest.fixture(scope="module")
def rendered() -> pipeline.Rendered:
    inputs = settings.load(str(ROOT), [])
    return pipeline.run(inputs.platform, inputs.apps, None, pipeline.Options())


def _files(rendered: pipeline.Rendered) -> dict[str, list[dict[str, Json]]]:
    """The catalog as a reader of the environment repo sees it: the bytes, parsed."""
    return {p: list(yaml.safe_load_all(b)) for p, b in rendered.tree.items() if p.startswith("catalog/")}


def _ref(entity: Mapping[str, Json]) -> str:
    meta = entity["metadata"]
    assert isinstance(meta, Mapping)
    return f"{str(entity['kind']).lower()}:{meta['namespace']}/{meta['name']}"


def test_one_file_per_environment_and_app(rendered: pipeline.Rendered) -> None:
    assert sorted(_files(rendered)) == [
        f"catalog/{env}/{scope}/catalog-info.yaml"
        for env in ("dev", "prod", "staging")
        for scope in ("_shared", "billing", "shop")
    ]


def test_the_catalog_is_valid_and_every_reference_resolves(rendered: pipeline.Rendered) -> None:
    files = _files(rendered)
    assert check_catalog(files) == []
    known = {_ref(e) for entities in files.values() for e in entities}
    assert len(known) == sum(len(v) for v in files.values()), "an entity is defined twice"
    for entities in files.values():
        for e in entities:
            spec = e["spec"]
            assert isinstance(spec, Mapping)
            for ref in [spec.get("system"), *(spec.get("dependsOn") or [])]:
                assert ref is None or ref in known, (_ref(e), ref)


def test_systems_components_and_resources_follow_the_graph(rendered: pipeline.Rendered) -> None:
    files = _files(rendered)
    for env_render in rendered.envs:
        env, analysis = env_render.env, env_render.analysis
        for app in ("shop", "billing"):
            entities = files[f"catalog/{env.id}/{app}/catalog-info.yaml"]
            kinds = [e["kind"] for e in entities]
            assert kinds.count("System") == 1 and kinds[0] == "System"
            workloads = sorted(w.name for w in analysis.workloads if w.app == app)
            components = {e["metadata"]["name"]: e for e in entities if e["kind"] == "Component"}
            assert sorted(components) == [f"{app}.{w}" for w in workloads]
            provisioned = {
                r.node.uid
                for r in analysis.resolved.values()
                if r.node.app == app and not r.node.shared and (r.artifacts.objects or r.artifacts.module)
            }
            assert kinds.count("Resource") == len(provisioned) > 0
            team = TEAM_OF[app]
            assert {e["spec"]["owner"] for e in entities} == {f"group:default/{team}"}


def test_depends_on_names_what_the_workload_binds(rendered: pipeline.Rendered) -> None:
    shop = _files(rendered)["catalog/prod/shop/catalog-info.yaml"]
    by_name = {e["metadata"]["name"]: e for e in shop}
    assert by_name["shop.web"]["spec"]["dependsOn"] == [
        "component:prod/shop.api",  # its `service` resource names the api workload
        "resource:prod/shop.web.autoscale",
        "resource:prod/shop.web.route",
    ]
    # a database on the shared RDS instance (`uses:`), which the platform's team owns
    assert by_name["shop.api.db"]["spec"]["dependsOn"] == [
        "resource:prod/shared.postgres-instance.default.shared"
    ]
    shared = _files(rendered)["catalog/prod/_shared/catalog-info.yaml"]
    instance = next(e for e in shared if e["metadata"]["name"] == "shared.postgres-instance.default.shared")
    assert instance["spec"] == {"owner": "group:default/platform", "type": "postgres-instance"}


def test_an_app_publish_owns_its_catalog() -> None:
    prefixes = owned_prefixes(["prod"], ["shop"], platform_wide=False)
    assert "catalog/prod/shop/" in prefixes and "catalog/prod/_shared/" in prefixes
    assert not any(p.startswith("catalog/prod/billing") for p in prefixes)
    assert "catalog/prod/" in owned_prefixes(["prod"], [], platform_wide=True)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("shop-api", "shop-api"),
        ("a--b", "a-b-"),  # a run of separators is one, and the hash keeps it apart from `a-b`
        ("x" * 70, "x" * 46 + "-"),
    ],
)
def test_entity_names_follow_backstage_rules(text: str, name: str) -> None:
    got = entity_name(text)
    assert got.startswith(name) and len(got) <= 63
    assert got == text or len(got.rpartition("-")[2]) == 16  # a changed name ends in 64 bits of hash
    assert check_catalog({"f": [_component(got)]}) == []


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"  # an app's, a workload's, a resource's name
_TYPE = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # a Score resource's type or class (2+ chars)
_ID = r"[a-z0-9]+(-+[a-z0-9]+)*(\.[a-z0-9]+(-+[a-z0-9]+)*)*"  # a Score resource's id


_NODE = Node("u", "t", "c", None, "n", None, None, {}, {}, Match(None, ()))


def _shared(type_: str, klass: str, id_: str) -> Node:
    return replace(_NODE, uid=shared_uid(type_, klass, id_), type=type_, klass=klass, id=id_)


@given(
    st.tuples(st.from_regex(_LABEL, fullmatch=True), st.from_regex(_LABEL, fullmatch=True)),
    st.tuples(st.from_regex(_LABEL, fullmatch=True), st.from_regex(_LABEL, fullmatch=True)),
    st.tuples(*(st.from_regex(r, fullmatch=True) for r in (_TYPE, _TYPE, _ID))),
    st.tuples(*(st.from_regex(r, fullmatch=True) for r in (_TYPE, _TYPE, _ID))),
)
def test_different_parts_never_give_one_entity_name(
    one: tuple[str, str], two: tuple[str, str], first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    """Hyphen-joined, app `a-b` workload `c` and app `a` workload `b-c` were one Component, and type
    `postgres` class `a-b` and class `a` id `b-...` one Resource: Backstage keeps only one."""
    assert (component_name(*one) == component_name(*two)) == (one == two)
    assert (resource_name(_shared(*first)) == resource_name(_shared(*second))) == (first == second)
    assert check_catalog({"f": [_component(component_name(*one))]}) == []


@given(
    st.tuples(*(st.from_regex(_LABEL, fullmatch=True) for _ in range(3))),
    st.tuples(*(st.from_regex(r, fullmatch=True) for r in (_TYPE, _TYPE, _ID))),
)
def test_an_apps_resource_and_a_shared_one_never_share_a_name(
    own: tuple[str, str, str], shared: tuple[str, str, str]
) -> None:
    """Both are Resources in one Backstage namespace: an app's may not take a shared one's name
    (the duplicate check would then stop that app's every publish, for another team's file)."""
    app, workload, name = own
    mine = replace(_NODE, app=app, workload=workload, name=name)
    assert resource_name(mine) != resource_name(_shared(*shared))


def test_names_that_hyphens_made_one_are_two() -> None:
    assert component_name("a-b", "c") != component_name("a", "b-c")
    assert resource_name(_shared("postgres", "a-b", "c")) != resource_name(_shared("postgres", "a", "b-c"))
    # app `postgres`, workload `default`, resource `db` against the shared postgres/default/db
    own = replace(_NODE, app="postgres", workload="default", name="db")
    assert resource_name(own) == "postgres.default.db" != resource_name(_shared("postgres", "default", "db"))


def test_an_entity_defined_twice_is_refused() -> None:
    files = {
        "catalog/dev/a/catalog-info.yaml": [_component("x")],
        "catalog/dev/b/catalog-info.yaml": [_component("x")],
    }
    problems = check_catalog(files)
    assert [(p.file, p.path, p.message) for p in problems] == [
        (
            "catalog/dev/b/catalog-info.yaml",
            "0.metadata.name",
            "component:dev/x is defined twice (also at catalog/dev/a/catalog-info.yaml entity 0); "
            "rename the app, workload or resource of one",
        )
    ]


def _component(name: str, **spec: Json) -> dict[str, Json]:
    body: dict[str, Json] = {"type": "service", "lifecycle": "experimental", "owner": "group:default/x"}
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "namespace": "dev"},
        "spec": {**body, **spec},
    }


def test_the_check_refuses_what_backstage_would() -> None:
    bad = _component("a--b", dependsOn=["resource:dev/missing"])
    del bad["spec"]["owner"]
    problems = check_catalog({"catalog/dev/x/catalog-info.yaml": [bad]})
    assert [(p.path, p.message) for p in problems] == [
        (
            "0.metadata.name",
            "not a valid Backstage entity: 'a--b' does not match '^[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$'",
        ),
        ("0.spec", "not a valid Backstage entity: 'owner' is a required property"),
        ("0.spec.dependsOn.0", "resource:dev/missing names no entity of the rendered catalog"),
    ]


def test_catalog_problems_stop_the_render(rendered: pipeline.Rendered) -> None:
    """The check runs with the schemas and policies, before anything is written."""
    platform = settings.load(str(ROOT), []).platform
    dev = next(e for e in rendered.envs if e.env.id == "dev")
    broken = replace(dev, catalog={"catalog/dev/x/catalog-info.yaml": [_component("a--b")]})
    report = findings.evaluate(broken, platform)
    with pytest.raises(PolicyDenied) as caught:
        findings.enforce(report)
    (problem,) = caught.value.problems()
    assert (problem.file, problem.path, problem.kind) == (
        "catalog/dev/x/catalog-info.yaml",
        "0.metadata.name",
        "schema",
    )
