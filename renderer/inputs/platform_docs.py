"""The platform's documents as their schemas (schemas/*.json) admit them: what the loader reads.

A document gets one of these types only after `documents.valid_docs` has checked it against its
schema. Keys that are Python keywords (`class`) need the functional TypedDict syntax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NotRequired, TypedDict

from renderer.data import Json
from renderer.model import (
    DefaultResources,
    DisruptionBudget,
    Observability,
    ProfilePatch,
    SecretOutput,
    TopologySpread,
)

CriterionDoc = TypedDict(
    "CriterionDoc",
    {"env_type": str, "env": str, "app": str, "res_id": str, "class": str},
    total=False,
)


class ClusterDoc(TypedDict):
    name: str
    kubernetes_version: str  # `1.30`
    namespace: NotRequired[str]  # a pattern with {app} and {env}
    shared_namespace: NotRequired[str]
    domain: NotRequired[str]
    ingress_namespace: NotRequired[str]


class AwsDoc(TypedDict):
    account_id: str
    region: str
    role_arn: str
    state_bucket: str
    secret_prefix: str
    state_key_prefix: NotRequired[str]
    allowed_registries: NotRequired[Sequence[str]]
    oidc_provider: str
    check_role: NotRequired[str]
    pin_images: NotRequired[bool]


class DeliveryDoc(TypedDict):
    mode: Literal["direct", "merge-request"]
    branch: NotRequired[str]
    gitops: NotRequired[Literal["flux", "argocd"]]
    source: NotRequired[str]  # Flux GitRepository name, or the Argo CD repoURL
    prerequisites: NotRequired[Sequence[str]]


class EnvironmentDoc(TypedDict):
    """`environments/<id>.yaml` (schemas/environment.json)."""

    apiVersion: str
    kind: str
    id: str
    type: str
    cluster: ClusterDoc
    aws: AwsDoc
    delivery: DeliveryDoc
    description: NotRequired[str]
    policies: NotRequired[Mapping[str, Literal["deny", "warn", "off"]]]  # policy set → mode
    values: NotRequired[Mapping[str, str | int | float | bool]]  # what `environment` resources serve


UseDoc = TypedDict("UseDoc", {"type": str, "class": NotRequired[str], "id": NotRequired[str]})


class ModuleDoc(TypedDict):
    source: str
    inputs: NotRequired[Mapping[str, Json]]


# `platform-config/resources/**/*.yaml` (schemas/resource-definition.json).
class AccessDoc(TypedDict, total=False):
    apps: Literal["all", "none"] | Sequence[str]
    params: Sequence[str]
    shared: Literal["app", "platform", "none"]


ResourceDefinitionDoc = TypedDict(
    "ResourceDefinitionDoc",
    {
        "apiVersion": str,
        "kind": str,
        "id": str,
        "type": str,
        "driver": Literal["kubernetes", "terraform", "static"],
        "class": NotRequired[str],
        "description": NotRequired[str],
        "criteria": NotRequired[Sequence[CriterionDoc]],
        "params_schema": NotRequired[Mapping[str, Json]],
        "uses": NotRequired[Mapping[str, UseDoc]],
        "template": NotRequired[str],  # required by the kubernetes driver
        "module": NotRequired[ModuleDoc],  # required by the terraform driver
        "outputs": NotRequired[Mapping[str, Json]],
        "secret_outputs": NotRequired[Mapping[str, SecretOutput]],
        "outputs_from": NotRequired[Literal["env.values"]],
        "access": NotRequired[AccessDoc],
    },
)

# `platform-config/profiles/*.yaml` (schemas/workload-profile.json).
WorkloadProfileDoc = TypedDict(
    "WorkloadProfileDoc",
    {
        "apiVersion": str,
        "kind": str,
        "id": str,
        "workload_kind": Literal["Deployment", "StatefulSet"],
        "class": NotRequired[str],
        "description": NotRequired[str],
        "criteria": NotRequired[Sequence[CriterionDoc]],
        "replicas": NotRequired[int],
        "disruption_budget": NotRequired[DisruptionBudget],
        "topology_spread": NotRequired[Sequence[TopologySpread]],
        "pod_security_context": NotRequired[Mapping[str, Json]],
        "container_security_context": NotRequired[Mapping[str, Json]],
        "default_resources": NotRequired[DefaultResources],
        "labels": NotRequired[Mapping[str, str]],
        "annotations": NotRequired[Mapping[str, str]],
        "patches": NotRequired[Sequence[ProfilePatch]],
        "namespace_quota": NotRequired[Mapping[str, Json]],
        "limit_range": NotRequired[Mapping[str, Mapping[str, Json]]],
        "observability": NotRequired[Observability],
    },
)


class TrustPlatformDoc(TypedDict):
    identity: str
    audience: str


class TrustAppsDoc(TypedDict):
    reserved_names: Sequence[str]
    max_name_length: NotRequired[int]
    names: NotRequired[Mapping[str, str]]


class TrustMetadataDoc(TypedDict):
    annotation_prefixes: Sequence[str]
    label_prefixes: Sequence[str]


class AllowanceDoc(TypedDict):
    app: str
    file: str
    path: str
    reason: str


class SecretScanDoc(TypedDict, total=False):
    allow: Sequence[AllowanceDoc]


class TeamDoc(TypedDict):
    cost_centre: str
    description: NotRequired[str]
    apps: NotRequired[Sequence[str]]


class OwnershipDoc(TypedDict):
    platform_team: str
    teams: Mapping[str, TeamDoc]


class TrustDoc(TypedDict):
    platform: TrustPlatformDoc
    apps: TrustAppsDoc
    metadata: TrustMetadataDoc
    profile_classes: Mapping[str, Sequence[str]]
    secret_scan: NotRequired[SecretScanDoc]
    limits: NotRequired[Mapping[str, int]]  # Limits field → value (the schema names the fields)
    ownership: NotRequired[OwnershipDoc]
