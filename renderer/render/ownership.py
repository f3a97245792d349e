"""Who owns and who pays: the app, its team, the environment and the cost centre on every object.

The team and its cost centre come only from the platform (`ownership:` in platform-config/trust.yaml,
keyed by app name), never from an app's files: a Score file cannot charge another team. The labels
sit under `renderer.platform/`, a prefix no workload, profile label or annotation may set (see
`resolve.access`), so a workload cannot replace them either. Selectors never use them.

Kubernetes objects carry them as labels, and so do the objects their templates make: the pods of
anything with a pod template (what cost tools allocate by), a CronJob's Jobs and their pods, and a
StatefulSet's PersistentVolumeClaims (its `volumeClaimTemplates`: the storage that costs).
Terraform projects carry them as the AWS provider's `default_tags`, which every AWS resource of the
project and of the modules it calls inherits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from renderer.data import Json, KubeObject, json_object
from renderer.model import Environment, Trust
from renderer.render.kubernetes.labels import label_value

PREFIX = "renderer.platform/"
APP, TEAM, ENVIRONMENT, COST_CENTRE = (f"{PREFIX}{k}" for k in ("app", "team", "environment", "cost-centre"))


@dataclass(frozen=True, slots=True)
class Owner:
    app: str  # the app, or the environment's shared namespace for the shared scope
    team: str
    environment: str
    cost_centre: str

    def labels(self) -> dict[str, str]:
        return {
            APP: label_value(self.app),
            COST_CENTRE: self.cost_centre,
            ENVIRONMENT: self.environment,
            TEAM: self.team,
        }

    def tags(self) -> dict[str, str]:
        """The same facts as AWS tags (the keys without the prefix)."""
        return {k[len(PREFIX) :]: v for k, v in self.labels().items()}


def owner_of(trust: Trust, env: Environment, app: str | None) -> Owner:
    """An app's owner in one environment; `None`: the platform's shared scope."""
    team = trust.team_of(app)
    return Owner(app or env.shared_namespace, team.name, env.id, team.cost_centre)


def stamp(objects: Iterable[KubeObject], owner: Owner) -> list[KubeObject]:
    """Each object with the owner's labels over its own, and on its pod template if it has one."""
    labels = owner.labels()
    return [_stamped(obj, labels) for obj in objects]


def _stamped(obj: Mapping[str, Json], labels: Mapping[str, str]) -> KubeObject:
    meta = dict(json_object(obj.get("metadata")))
    meta["labels"] = {**json_object(meta.get("labels")), **labels}
    out: KubeObject = {**obj, "metadata": meta}
    spec = json_object(obj.get("spec"))
    nested = _nested(obj.get("kind"), spec, labels)
    if nested:
        out["spec"] = {**spec, **nested}
    return out


def _nested(kind: Json, spec: Mapping[str, Json], labels: Mapping[str, str]) -> dict[str, Json]:
    """The templates in a spec that become objects of their own, stamped too: a pod template (what
    cost tools allocate pods by), a CronJob's Job template (and so its pods), a StatefulSet's claim
    templates (its PersistentVolumeClaims: the storage that is paid for)."""
    out: dict[str, Json] = {}
    template = json_object(spec.get("template"))
    if "containers" in json_object(template.get("spec")):
        out["template"] = _stamped(template, labels)
    job = json_object(spec.get("jobTemplate"))
    if kind == "CronJob" and job:
        out["jobTemplate"] = _stamped(job, labels)
    claims = spec.get("volumeClaimTemplates")
    if kind == "StatefulSet" and isinstance(claims, list | tuple) and claims:
        out["volumeClaimTemplates"] = [_stamped(json_object(c), labels) for c in claims]
    return out
