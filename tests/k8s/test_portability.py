"""Score files written for score-k8s / score-compose: their output names, their types, any class."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.data import Json, json_object
from renderer.errors import InputError
from renderer.inputs import platform_config
from renderer.model import Environment, ResourceDefinition
from renderer.resolve.matching import Request, match_resource
from tests.conftest import ROOT, write
from tests.k8s.helpers import dig, edit, kube_objects, render

PORTABLE = """\
apiVersion: score.dev/v1b1
metadata:
  name: porter
containers:
  main:
    image: ghcr.io/example/porter:1.0.0
    variables:
      MONGO_URL: ${resources.docs.connection}
      MSSQL_CONNECTION: ${resources.legacy.connection}
      MSSQL_SERVER: ${resources.legacy.server}
      MSSQL_DATABASE: ${resources.legacy.database}
      S3_KEY_ID: ${resources.bucket.access_key_id}
      S3_SECRET: ${resources.bucket.secret_key}
      S3_AWS_SECRET: ${resources.bucket.aws_secret_key}
      ES_URL: http://${resources.search.username}:${resources.search.password}@${resources.search.host}:${resources.search.port}
      PG_HOST: ${resources.db.host}
    volumes:
      /tmp:
        source: ${resources.scratch}
    resources:
      limits: {memory: 256Mi}
resources:
  docs: {type: mongodb}
  legacy: {type: mssql}
  bucket: {type: s3, class: read-only}
  search: {type: elasticsearch}
  db: {type: postgres, class: application}
  scratch: {type: volume, class: ephemeral}
"""


def _env_vars(objects: dict[str, dict[str, Json]], env: str) -> dict[str, Json]:
    deploy = objects[f"kubernetes/{env}/portable/porter/deployment-porter.yaml"]
    containers = dig(deploy, "spec", "template", "spec", "containers")
    assert isinstance(containers, list)
    return {str(e["name"]): e.get("value", e.get("valueFrom")) for e in containers[0]["env"]}


@pytest.fixture
def portable(project: Path) -> Path:
    write(project / "examples/apps/portable/score.yaml", PORTABLE)
    return project


def test_score_k8s_names_and_any_class_render(portable: Path) -> None:
    objects = {p: dict(o) for p, o in kube_objects(render(portable, ["dev", "prod"])).items()}
    env = _env_vars(objects, "dev")
    mongo = json_object(json_object(env["MONGO_URL"]).get("secretKeyRef"))
    assert mongo["key"] == "connection" and str(mongo["name"]).startswith("mongo-")
    mssql = json_object(json_object(env["MSSQL_CONNECTION"]).get("secretKeyRef"))
    assert mssql["key"] == "connection"
    assert str(env["MSSQL_SERVER"]).startswith("mssql-") and env["MSSQL_DATABASE"] == "master"
    # the mongo ExternalSecret writes the connection key the workload reads
    secret = objects[f"kubernetes/dev/portable/porter/externalsecret-{mongo['name']}.yaml"]
    template = dig(secret, "spec", "target", "template", "data")
    assert str(json_object(template)["connection"]).startswith("mongodb://app:{{ .password }}@mongo-")
    # s3's three score-k8s names are the two keys the module writes, and a class s3-bucket never named
    for var in ("S3_KEY_ID", "S3_SECRET", "S3_AWS_SECRET"):
        assert "secretKeyRef" in json_object(env[var]), var
    keys = {str(d["remoteRef"]["property"]) for d in _es_data(objects, "dev")}
    assert {"aws_access_key_id", "aws_secret_access_key"} <= keys
    # elasticsearch: score-compose's outputs, from an in-cluster StatefulSet with probes
    assert "es-" in str(env["ES_URL"]) and ":9200" in str(env["ES_URL"])
    prod = _env_vars(objects, "prod")
    assert "PG_HOST" in prod  # postgres class application → the RDS definition in production


def _es_data(objects: dict[str, dict[str, Json]], env: str) -> list[dict[str, dict[str, str]]]:
    es = objects[f"kubernetes/{env}/portable/porter/externalsecret-porter.yaml"]
    data = dig(es, "spec", "data")
    assert isinstance(data, list)
    return data


def _request(type_: str, klass: str, env: Environment) -> Request:
    return Request(type_, klass, None, "portable", env)


def test_an_exact_class_outranks_any_class() -> None:
    platform = platform_config.load_platform(str(ROOT))
    dev = platform.environments["dev"]
    persistent = match_resource(_request("volume", "persistent", dev), platform.definitions)
    assert persistent.definition is not None and persistent.definition.id == "volume-persistent"
    other = next(c for c in persistent.candidates if c.definition == "volume-ephemeral")
    assert other.outcome == "outranked"
    assert other.reason == "matches any class; volume-persistent is for class persistent"
    tmp = match_resource(_request("volume", "tmp", dev), platform.definitions)
    assert tmp.definition is not None and tmp.definition.id == "volume-ephemeral"


def test_exact_class_wins_over_a_more_specific_any_class(project: Path) -> None:
    platform = platform_config.load_platform(str(ROOT))
    dev = platform.environments["dev"]
    wildcard = _definition(platform.definitions, "postgres-in-cluster")  # class *, env_type: development
    exact = _replace(wildcard, "postgres-plain", "default")
    found = match_resource(_request("postgres", "default", dev), [wildcard, _no_criteria(exact)])
    assert found.definition is not None and found.definition.id == "postgres-plain"
    other = match_resource(_request("postgres", "reporting", dev), [wildcard, _no_criteria(exact)])
    assert other.definition is not None and other.definition.id == "postgres-in-cluster"
    rejected = next(c for c in other.candidates if c.definition == "postgres-plain")
    assert rejected.outcome == "rejected" and rejected.reason == "class=default ≠ reporting"


def _definition(defs: tuple[ResourceDefinition, ...], id_: str) -> ResourceDefinition:
    return next(d for d in defs if d.id == id_)


def _replace(d: ResourceDefinition, id_: str, klass: str) -> ResourceDefinition:
    import dataclasses

    return dataclasses.replace(d, id=id_, klass=klass)


def _no_criteria(d: ResourceDefinition) -> ResourceDefinition:
    import dataclasses

    from renderer.model import Criterion

    return dataclasses.replace(d, criteria=(Criterion(),))


@pytest.mark.parametrize("klass", ['"a*"', '"**"', '""'])
def test_class_is_a_name_or_star(project: Path, klass: str) -> None:
    edit(project, "platform-config/resources/dns.yaml", 'class: "*"', f"class: {klass}")
    with pytest.raises(InputError) as err:
        platform_config.load_platform(str(project))
    (problem,) = err.value.problems()
    assert problem.file == "platform-config/resources/dns.yaml" and problem.path == "class"


def test_shipped_definitions_match_any_class_where_score_k8s_does() -> None:
    """score-k8s' and score-compose's default provisioners leave class open for these types."""
    platform = platform_config.load_platform(str(ROOT))
    open_types = {
        "service-port", "volume", "dns", "route", "postgres", "postgres-instance", "redis", "mysql",
        "mongodb", "amqp", "mssql", "s3", "kafka-topic", "elasticsearch",
    }  # fmt: skip
    for type_ in sorted(open_types):
        classes = {d.klass for d in platform.definitions if d.type == type_}
        assert "*" in classes, type_
