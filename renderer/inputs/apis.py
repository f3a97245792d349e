"""platform-config/apis.yaml → the ApiTable: which API versions each Kubernetes minor and operator serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict, cast

from renderer.errors import Collector
from renderer.inputs.documents import valid_docs
from renderer.model import ApiStatus, ApiTable, Environment, Operator

APIS_FILE = "platform-config/apis.yaml"


class ApiDoc(TypedDict):
    group_version: str
    kinds: NotRequired[Sequence[str]]
    introduced: NotRequired[str]
    deprecated: NotRequired[str]
    removed: NotRequired[str]
    replacement: NotRequired[str]
    note: NotRequired[str]


class OperatorDoc(TypedDict):
    version: str
    groups: Sequence[str]
    apis: Sequence[ApiDoc]
    source: NotRequired[str]
    environments: NotRequired[Sequence[str]]


class KubernetesDoc(TypedDict):
    minors: Sequence[str]
    apis: Sequence[ApiDoc]


class ApisDoc(TypedDict):
    kubernetes: KubernetesDoc
    operators: Mapping[str, OperatorDoc]


def load_apis(root: str, problems: Collector) -> ApiTable:
    """The table, or an empty one when the platform has none (then only served Kubernetes APIs count)."""
    for _, doc in valid_docs(root, problems, "apis", *APIS_FILE.split("/")):
        d = cast(ApisDoc, doc.data)  # sound: valid_docs checked it against apis.json
        operators = tuple(
            Operator(name, o["version"], tuple(o["groups"]), _rows(o["apis"]), _envs(o))
            for name, o in sorted(d["operators"].items())
        )
        kube = d["kubernetes"]
        return ApiTable(doc.file, tuple(kube["minors"]), _rows(kube["apis"]), operators)
    return ApiTable()


def _envs(o: OperatorDoc) -> tuple[str, ...] | None:
    return tuple(sorted(o["environments"])) if "environments" in o else None


def _rows(docs: Sequence[ApiDoc]) -> tuple[ApiStatus, ...]:
    return tuple(
        ApiStatus(
            d["group_version"],
            tuple(d.get("kinds", ())),
            d.get("introduced"),
            d.get("deprecated"),
            d.get("removed"),
            d.get("replacement", ""),
        )
        for d in docs
    )


def check_versions(envs: Mapping[str, Environment], table: ApiTable, problems: Collector) -> None:
    """An environment runs a Kubernetes minor the table (and the shipped schemas) cover."""
    if not table.minors:
        return
    for env in envs.values():
        if env.kubernetes_version not in table.minors:
            problems.extend(
                [
                    env.doc.problem(
                        ["cluster", "kubernetes_version"],
                        f"Kubernetes {env.kubernetes_version} is not a minor the platform supports "
                        f"({table.file} lists {', '.join(table.minors)})",
                        "upgrade the cluster, or add the minor to the table once the renderer has its schema",
                    )
                ]
            )
