"""Ownership and cost: every rendered object and every Terraform resource of the examples carries the
app, its team, the environment and the cost centre, all from the platform's trust.yaml."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from renderer import pipeline
from renderer.data import Json, json_object
from renderer.errors import InputError
from renderer.inputs import platform_config
from renderer.inputs import roots as settings
from renderer.render.ownership import APP, COST_CENTRE, ENVIRONMENT, TEAM
from renderer.render.terraform import is_module_path, project_of
from tests.conftest import ROOT, edit, write

TRUST = yaml.safe_load((ROOT / "platform-config" / "trust.yaml").read_text())["ownership"]
TEAM_OF = {app: name for name, t in TRUST["teams"].items() for app in t.get("apps", [])}
SHARED_NS = {"dev": "platform-dev", "staging": "platform-staging", "prod": "platform"}
# Providers whose resources have no tags: nothing of theirs is billed by AWS
UNTAGGED = ("postgresql_", "random_")


@pytest.fixture(scope="module")
def tree() -> dict[str, bytes]:
    inputs = settings.load(str(ROOT), [])
    rendered = pipeline.run(inputs.platform, inputs.apps, None, pipeline.Options())
    return dict(rendered.tree)


def _scope(path: str) -> tuple[str, str]:
    """(env, app or `_shared`) of a rendered Kubernetes object or entry point."""
    parts = path.split("/")
    return (parts[1], parts[2]) if parts[0] == "kubernetes" else (parts[1], parts[3])


def _expected(env: str, scope: str) -> dict[str, str]:
    team = TRUST["platform_team"] if scope == "_shared" else TEAM_OF[scope]
    app = SHARED_NS[env] if scope == "_shared" else scope
    cost = TRUST["teams"][team]["cost_centre"]
    return {APP: app, TEAM: team, ENVIRONMENT: env, COST_CENTRE: cost}


def _objects(tree: Mapping[str, bytes]) -> dict[str, dict[str, Json]]:
    return {
        p: yaml.safe_load(b)
        for p, b in tree.items()
        if p.startswith(("kubernetes/", "clusters/")) and not p.endswith("kustomization.yaml")
    }


def test_every_object_and_pod_carries_its_owner(tree: dict[str, bytes]) -> None:
    objects = _objects(tree)
    assert len(objects) > 200 and any(p.startswith("clusters/") for p in objects)
    pods = 0
    for path, obj in objects.items():
        want = _expected(*_scope(path))
        labels = json_object(json_object(obj["metadata"]).get("labels"))
        assert {k: labels.get(k) for k in want} == want, path
        template = json_object(json_object(obj.get("spec")).get("template"))
        if "containers" in json_object(template.get("spec")):
            pods += 1
            pod_labels = json_object(json_object(template.get("metadata")).get("labels"))
            assert {k: pod_labels.get(k) for k in want} == want, path
    assert pods >= 30


def test_selectors_never_use_the_ownership_labels(tree: dict[str, bytes]) -> None:
    """A team moving apps must not change an immutable selector."""
    for path, obj in _objects(tree).items():
        selector = json_object(json_object(obj.get("spec")).get("selector"))
        keys = set(json_object(selector.get("matchLabels"))) | set(selector)
        assert not [k for k in keys if k.startswith("renderer.platform/")], path


def _aws_provider(project: Mapping[str, Json]) -> Mapping[str, Json]:
    return json_object(json_object(project["provider"])["aws"])


def test_every_terraform_project_tags_what_it_creates(tree: dict[str, bytes]) -> None:
    projects = {p: json.loads(b) for p, b in tree.items() if project_of(p)}
    assert len(projects) >= 6
    for path, project in projects.items():
        env, scope = project_of(path) or ("", "")
        tags = json_object(json_object(_aws_provider(project)["default_tags"])["tags"])
        want = {k.split("/")[1]: v for k, v in _expected(env, scope).items()}
        want["app"] = scope  # a project's app tag is its scope, `_shared` included (its state key's)
        assert {k: tags.get(k) for k in want} == want, path


def test_every_aws_resource_inherits_the_tagged_provider(tree: dict[str, bytes]) -> None:
    """Modules declare no AWS provider and no resource picks another: the project's default_tags
    reach every AWS resource; the rest (database roles, random passwords) have nothing to tag."""
    files = {
        p: json.loads(b) for p, b in tree.items() if p.endswith(".tf.json") and p.startswith("terraform/")
    }
    seen = {"aws": 0, "other": 0}
    for path, body in files.items():
        if is_module_path(path):
            assert "aws" not in json_object(body.get("provider")), path
        for rtype, blocks in json_object(body.get("resource")).items():
            for name, block in json_object(blocks).items():
                assert "provider" not in json_object(block), (path, rtype, name)
                if rtype.startswith("aws_"):
                    assert not json_object(block).get("tags_all"), (path, rtype)
                    seen["aws"] += 1
                else:
                    assert rtype.startswith(UNTAGGED), (path, rtype)
                    seen["other"] += 1
    assert seen["aws"] >= 20 and seen["other"] >= 3, seen


def test_an_app_no_team_lists_is_charged_to_the_platform_team(project: Path) -> None:
    edit(project / "platform-config" / "trust.yaml", "apps: [billing]", "apps: []")
    inputs = settings.load(str(project), [])
    rendered = pipeline.run(inputs.platform, inputs.apps, ["dev"], pipeline.Options())
    ns = yaml.safe_load(rendered.tree["kubernetes/dev/billing/namespace-billing-dev.yaml"])
    assert ns["metadata"]["labels"][TEAM] == "platform"
    assert ns["metadata"]["labels"][COST_CENTRE] == "CC-1000"


def test_a_score_file_cannot_claim_a_team(project: Path) -> None:
    """The renderer's prefix is refused in a workload's annotations; the example's plain `team:`
    annotation (shop says `checkout`) is data, not ownership: trust.yaml says commerce."""
    score = project / "examples" / "apps" / "billing" / "score.yaml"
    edit(
        score,
        "    renderer.platform/profile: stateful\n",
        "    renderer.platform/profile: stateful\n    renderer.platform/team: commerce\n",
    )
    inputs = settings.load(str(project), [])
    with pytest.raises(InputError) as caught:
        pipeline.run(inputs.platform, inputs.apps, ["dev"], pipeline.Options())
    (problem,) = caught.value.problems()
    assert problem.message == (
        "annotation 'renderer.platform/team' belongs to the renderer or to the controllers that apply "
        "the output"
    )
    assert problem.file.endswith("billing/score.yaml") and problem.line == 6


def test_the_score_team_annotation_is_not_ownership(tree: dict[str, bytes]) -> None:
    api = yaml.safe_load(tree["kubernetes/dev/shop/api/deployment-api.yaml"])
    assert "checkout" in json.dumps(api)  # TEAM: ${metadata.annotations.team}, as the app wrote it
    assert api["metadata"]["labels"][TEAM] == "commerce"


def test_two_teams_cannot_own_one_app(project: Path) -> None:
    trust = project / "platform-config" / "trust.yaml"
    edit(trust, "apps: [billing]", "apps: [billing, shop]")
    with pytest.raises(InputError) as caught:
        platform_config.load_platform(str(project))
    (problem,) = [p for p in caught.value.problems() if "also owned" in p.message]
    assert problem.message == "app 'shop' is also owned by team 'commerce'"
    assert problem.file == "platform-config/trust.yaml" and problem.line > 0


def test_the_platform_team_must_be_a_team(project: Path) -> None:
    edit(project / "platform-config" / "trust.yaml", "platform_team: platform", "platform_team: ops")
    with pytest.raises(InputError) as caught:
        platform_config.load_platform(str(project))
    (problem,) = caught.value.problems()
    assert problem.message == "no team 'ops'"
    assert problem.hint == "known: commerce, finance, platform"


def test_a_cost_centre_must_be_a_label_value(project: Path) -> None:
    edit(project / "platform-config" / "trust.yaml", "cost_centre: CC-2040", "cost_centre: 'CC 2040/x'")
    with pytest.raises(InputError) as caught:
        platform_config.load_platform(str(project))
    (problem,) = caught.value.problems()
    assert problem.path == "ownership.teams.commerce.cost_centre"


def test_trust_without_ownership_charges_the_default(project: Path) -> None:
    trust = project / "platform-config" / "trust.yaml"
    text = trust.read_text()
    write(trust, text[: text.index("ownership:")])
    platform = platform_config.load_platform(str(project))
    assert platform.trust.team_of("shop").name == "platform"
    assert platform.trust.team_of("shop").cost_centre == "unassigned"
