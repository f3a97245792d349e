"""Ownership labels reach what a template makes: a StatefulSet's PersistentVolumeClaims (the storage
that is paid for), a CronJob's Jobs and their pods, any pod template; never a CRD's look-alike field."""

from __future__ import annotations

import pytest
import yaml

from renderer import pipeline
from renderer.data import Json, KubeObject, json_object
from renderer.inputs import roots as settings
from renderer.render.ownership import TEAM, Owner, stamp
from tests.conftest import ROOT

OWNER = Owner("shop", "commerce", "dev", "CC-2040")
POD = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


def labels(obj: Json) -> dict[str, Json]:
    return dict(json_object(json_object(json_object(obj).get("metadata")).get("labels")))


def spec(obj: Json) -> dict[str, Json]:
    return dict(json_object(json_object(obj).get("spec")))


def test_a_statefulsets_claims_and_pods_carry_the_owner() -> None:
    claim: Json = {"metadata": {"name": "data", "labels": {"tier": "db"}}, "spec": {"accessModes": ["RWO"]}}
    sts: KubeObject = {
        "kind": "StatefulSet",
        "metadata": {},
        "spec": {"template": POD, "volumeClaimTemplates": [claim]},
    }
    (out,) = stamp([sts], OWNER)
    (stamped,) = spec(out)["volumeClaimTemplates"]
    assert labels(stamped) == {"tier": "db", **OWNER.labels()}
    assert json_object(stamped)["spec"] == {"accessModes": ["RWO"]}
    assert labels(spec(out)["template"])[TEAM] == "commerce"
    assert labels(claim) == {"tier": "db"}  # the input is not changed in place


def test_a_cronjobs_jobs_and_their_pods_carry_the_owner() -> None:
    cron: KubeObject = {
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": POD}}},
    }
    (out,) = stamp([cron], OWNER)
    job = spec(out)["jobTemplate"]
    assert labels(job) == OWNER.labels()
    assert labels(spec(job)["template"]) == {"app": "x", **OWNER.labels()}


@pytest.mark.parametrize("field", ["volumeClaimTemplates", "jobTemplate"])
def test_a_custom_resources_field_of_that_name_is_left_alone(field: str) -> None:
    value: Json = [{"metadata": {}}] if field == "volumeClaimTemplates" else {"metadata": {}}
    crd: KubeObject = {"kind": "Cluster", "metadata": {}, "spec": {field: value}}
    (out,) = stamp([crd], OWNER)
    assert spec(out)[field] == value  # its schema is its own: nothing is added to it


def test_every_rendered_statefulset_labels_its_claims() -> None:
    inputs = settings.load(str(ROOT), [])
    rendered = pipeline.run(inputs.platform, inputs.apps, None, pipeline.Options())
    seen = 0
    for path, data in rendered.tree.items():
        if "/statefulset-" not in path:
            continue
        obj = yaml.safe_load(data)
        for claim in spec(obj).get("volumeClaimTemplates") or []:
            assert labels(claim) == {**labels(claim), **{k: labels(obj)[k] for k in OWNER.labels()}}, path
            seen += 1
    assert seen >= 2  # billing's in-cluster MySQL and MSSQL, at least
