"""Validated, trusted values that every stage after `validate` works on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypeAlias, TypedDict

from renderer.data import Doc, Json

# Specificity weights of design §4: env_type < app < env < res_id (class is part of identity).
CRITERIA_WEIGHTS: Mapping[str, int] = {"env_type": 1, "app": 2, "env": 4, "res_id": 8}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One alternative of a definition's `criteria`: every field given must equal the request."""

    env_type: str | None = None
    env: str | None = None
    app: str | None = None
    res_id: str | None = None
    klass: str | None = None

    @property
    def specificity(self) -> int:
        return sum(w for k, w in CRITERIA_WEIGHTS.items() if getattr(self, k) is not None)

    def describe(self) -> str:
        parts = [f"{k}={getattr(self, k)}" for k in ("env_type", "app", "env", "res_id")]
        given = [p for p in parts if not p.endswith("=None")]
        if self.klass is not None:
            given.append(f"class={self.klass}")
        return ", ".join(given) or "(any)"


# ---- Score workloads (score.dev/v1b1) as schemas/score-v1b1.json admits them ----------------------
# Deprecated forms are already upgraded when these apply: files and volumes are maps keyed by target
# (no `target` field), volumes say `readOnly`. Requests and limits, whose keys the schema fixes but
# which are only copied whole, stay `Mapping`s: a Mapping[str, str] is Json as it is, a TypedDict not.


class ScoreMetadata(TypedDict):
    """`metadata`: other keys are allowed and are there at run time (read by `${metadata.…}`)."""

    name: str
    annotations: NotRequired[Mapping[str, str]]


class ScoreFile(TypedDict, total=False):
    """One of `content`, `binaryContent`, `source` (the schema's oneOf)."""

    content: str
    binaryContent: str
    source: str  # relative to the Score file
    mode: str  # octal text, `0644`
    noExpand: bool


class ScoreVolume(TypedDict):
    source: str  # `${resources.NAME}`, or the legacy plain resource name
    path: NotRequired[str]
    readOnly: NotRequired[bool]


class ScoreContainerResources(TypedDict, total=False):
    limits: Mapping[str, str]  # `cpu`, `memory`
    requests: Mapping[str, str]


class ScoreHttpHeader(TypedDict):
    name: str
    value: str


class ScoreHttpProbe(TypedDict):
    port: int
    path: str
    host: NotRequired[str]
    scheme: NotRequired[Literal["HTTP", "HTTPS"]]
    httpHeaders: NotRequired[Sequence[ScoreHttpHeader]]


class ScoreExecProbe(TypedDict):
    command: Sequence[str]


class ScoreProbe(TypedDict, total=False):
    """At least one of the two (the schema's anyOf)."""

    httpGet: ScoreHttpProbe
    exec: ScoreExecProbe


class ScoreBefore(TypedDict):
    ready: Literal["started", "healthy", "complete"]


class ScoreContainer(TypedDict):
    image: str
    command: NotRequired[Sequence[str]]
    args: NotRequired[Sequence[str]]
    variables: NotRequired[Mapping[str, str]]
    files: NotRequired[Mapping[str, ScoreFile]]  # target path → file
    volumes: NotRequired[Mapping[str, ScoreVolume]]  # target path → volume
    resources: NotRequired[ScoreContainerResources]
    livenessProbe: NotRequired[ScoreProbe]
    readinessProbe: NotRequired[ScoreProbe]
    before: NotRequired[Mapping[str, ScoreBefore]]  # container name → when it counts as ready


class ScoreServicePort(TypedDict):
    port: int
    targetPort: NotRequired[int]
    protocol: NotRequired[Literal["TCP", "UDP"]]


class ScoreService(TypedDict, total=False):
    ports: Mapping[str, ScoreServicePort]


# Functional syntax: `class` is a keyword. `params` is free-form; `metadata` is too (the schema only
# fixes that its `annotations` are strings, and nothing here reads them).
ScoreResource = TypedDict(
    "ScoreResource",
    {
        "type": str,
        "class": NotRequired[str],
        "id": NotRequired[str],
        "params": NotRequired[Mapping[str, Json]],
        "metadata": NotRequired[Mapping[str, Json]],
    },
)


class WorkloadSpec(TypedDict):
    """A whole Score file, validated: only `app_repo` makes one (the schema check is the proof)."""

    apiVersion: str
    metadata: ScoreMetadata
    containers: Mapping[str, ScoreContainer]
    service: NotRequired[ScoreService]
    resources: NotRequired[Mapping[str, ScoreResource]]


@dataclass(frozen=True, slots=True)
class Workload:
    app: str
    name: str
    file: str  # as shown to users, relative to the project root where possible
    base_dir: str  # the app folder: file `source:` paths are relative to it
    spec: WorkloadSpec
    doc: Doc
    # contents of every file `source:` the workload names, read by the loader
    sources: Mapping[str, bytes] = field(default_factory=dict)
    rel: str = ""  # path inside the app directory: stable wherever the app is checked out

    @property
    def origin(self) -> str:
        """How rendered objects name their source: `<app>/<file>`, the same on every machine."""
        return f"{self.app}/{self.rel}"


@dataclass(frozen=True, slots=True)
class App:
    id: str
    directory: str
    workloads: tuple[Workload, ...]
    # env id → the workloads with that environment's overrides merged (only where some exist)
    variants: Mapping[str, tuple[Workload, ...]] = field(default_factory=dict)
    override_files: Mapping[str, str] = field(default_factory=dict)  # env id → a file, for errors
    # every file the loader read, by its path in the app folder: what `.render/apps/<app>/` stores
    files: Mapping[str, bytes] = field(default_factory=dict)
    display: str = ""  # the app folder as problems name it (relative to the project root)

    def workloads_in(self, env: str) -> tuple[Workload, ...]:
        return self.variants.get(env, self.workloads)


@dataclass(frozen=True, slots=True)
class Environment:
    id: str
    type: str
    file: str
    cluster_name: str
    kubernetes_version: str
    namespace_pattern: str
    shared_namespace: str
    domain: str
    account_id: str
    region: str
    role_arn: str
    state_bucket: str
    state_key_prefix: str
    secret_prefix: str
    allowed_registries: tuple[str, ...]
    delivery: str
    branch: str
    policies: Mapping[str, str]
    doc: Doc
    values: Mapping[str, Json] = field(default_factory=dict)  # `values:`, served by the `environment` type
    gitops: str = "flux"  # flux | argocd: which controller applies clusters/<env>/renderer/
    gitops_source: str = "flux-system"  # Flux GitRepository name, or the Argo CD repoURL
    prerequisites: tuple[str, ...] = ()  # Flux Kustomizations installing operators; _shared waits
    ingress_namespace: str = "ingress-nginx"  # where the ingress controller runs (NetworkPolicy)
    oidc_provider: str = ""  # cluster OIDC issuer (no https://): per-app secret roles trust it
    check_role: str = ""  # read-only role `renderer check` assumes; never the Terraform role
    pin_images: bool = False  # pin images to the digests recorded at the edge (check / publish)

    def namespace(self, app: str) -> str:
        return self.namespace_pattern.replace("{app}", app).replace("{env}", self.id)

    def as_context(self) -> dict[str, Json]:
        return {
            "id": self.id,
            "type": self.type,
            "cluster": self.cluster_name,
            "kubernetes_version": self.kubernetes_version,
            "shared_namespace": self.shared_namespace,
            "domain": self.domain,
            "account_id": self.account_id,
            "region": self.region,
            "secret_prefix": self.secret_prefix,
            "values": dict(self.values),
        }


@dataclass(frozen=True, slots=True)
class Use:
    """A definition's dependency on a shared resource (`uses:`), an edge in the graph."""

    alias: str
    type: str
    klass: str
    id: str


# A secret output: a key at the node's Secrets Manager path, or `{secret, key}` (both required) naming
# an in-cluster Secret. A map, not a TypedDict: its two templates render in the order they are written.
SecretOutput: TypeAlias = str | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Access:
    """A definition's `access:`: who may request it, which params apps may set, who owns a shared id."""

    apps: Literal["all", "none"] | tuple[str, ...] = "all"  # "none": only definitions, through uses:
    params: tuple[str, ...] | None = None  # None: every param the params_schema admits
    # app: a shared id belongs to the first app that declared it; platform: any app may use it;
    # none: it cannot be requested with an id at all
    shared: Literal["app", "platform", "none"] = "app"


@dataclass(frozen=True, slots=True)
class ResourceDefinition:
    id: str
    type: str
    klass: str
    criteria: tuple[Criterion, ...]
    driver: str
    params_schema: Mapping[str, Json] | None  # a JSON Schema
    uses: tuple[Use, ...]
    template: str
    module_source: str
    module_inputs: Mapping[str, Json]  # free-form; string leaves are templates
    outputs: Mapping[str, Json]  # free-form; string leaves are templates
    secret_outputs: Mapping[str, SecretOutput]
    file: str
    doc: Doc
    access: Access = Access()
    outputs_from: str = ""  # "env.values": every key of the environment's `values:` is an output too


# ---- Workload profile parts, as schemas/workload-profile.json fixes them --------------------------


class DisruptionBudget(TypedDict, total=False):
    min_available: int | str
    max_unavailable: int | str


class TopologySpread(TypedDict):
    topology_key: str
    max_skew: NotRequired[int]
    when_unsatisfiable: NotRequired[Literal["DoNotSchedule", "ScheduleAnyway"]]


class DefaultResources(TypedDict, total=False):
    limits: Mapping[str, Json]  # resource name → quantity, as Kubernetes takes it
    requests: Mapping[str, Json]


class ProfilePatch(TypedDict):
    kind: str  # the kind of rendered object it applies to
    merge: Mapping[str, Json]  # a JSON Merge Patch


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    klass: str
    criteria: tuple[Criterion, ...]
    workload_kind: str
    replicas: int
    disruption_budget: DisruptionBudget | None
    topology_spread: tuple[TopologySpread, ...]
    pod_security_context: Mapping[str, Json]  # a Kubernetes PodSecurityContext, copied as it is
    container_security_context: Mapping[str, Json]  # a Kubernetes SecurityContext, copied as it is
    default_resources: DefaultResources
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    patches: tuple[ProfilePatch, ...]
    file: str
    namespace_quota: Mapping[str, Json] = field(default_factory=dict)  # per workload, summed per namespace
    # the namespace's LimitRange: default, default_request, max (each a map of cpu/memory)
    limit_range: Mapping[str, Mapping[str, Json]] = field(default_factory=dict)
    observability: Observability | None = None  # monitors, OpenTelemetry, alert rules (render/observability)
    doc: Doc | None = None  # the profile as read: its alert rule templates report lines from it


class MetricsSpec(TypedDict, total=False):
    """A profile's `observability.metrics`: how a workload's declared metrics port is scraped."""

    port: str  # the name of the Score service port that serves metrics
    monitor: Literal["ServiceMonitor", "PodMonitor"]
    path: str
    interval: str


class Observability(TypedDict, total=False):
    metrics: MetricsSpec
    opentelemetry: bool  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES on every main container
    # alert rule templates: alert, expr, for, severity, summary, description (texts are Jinja2)
    alerts: Sequence[Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Allowance:
    """A secret-scan finding the platform team accepted, and why (platform-config/trust.yaml)."""

    app: str
    file: str  # as the app names it: `score.yaml`, `overrides/prod/api.yaml`, `config/app.json`
    path: str  # the YAML path as the finding prints it; empty for a whole file source
    reason: str


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one app may bring (trust.yaml `limits:`), so a hostile app repo costs bounded
    time and memory. The README's "Limits" table says what each one counts."""

    file_bytes: int = 1024 * 1024  # one file; a bigger one is never read past this
    app_bytes: int = 8 * 1024 * 1024  # every file of one app together
    app_files: int = 1000  # files and folders one app folder may hold (listings stop there)
    workloads: int = 100  # Score files per app
    containers: int = 20  # per workload
    resources: int = 100  # per workload
    files: int = 100  # file mounts per workload, all containers together
    yaml_nodes: int = 200_000  # values one YAML file expands to (each use of an alias counts)
    yaml_bytes: int = 4 * 1024 * 1024  # text one YAML file's strings expand to (aliases count each use)
    yaml_depth: int = 64  # nesting of one YAML document
    string_bytes: int = 128 * 1024  # one string value (Linux starts no process with a longer env string)

    def over(self, key: str, what: str) -> tuple[str, str]:
        """The message and hint of an input over one limit: which, its value, who can change it."""
        return f"{what}: over the limit of {getattr(self, key)} (limits.{key})", limit_hint(key)


def limit_hint(key: str) -> str:
    return f"make it smaller; the platform team sets limits.{key} in platform-config/trust.yaml"


@dataclass(frozen=True, slots=True)
class Team:
    """Who owns apps and pays for them (trust.yaml `ownership:`): only the platform says so."""

    name: str
    cost_centre: str
    apps: tuple[str, ...] = ()


ALL_APPS_SCOPE = "all-apps"  # the scope of a publish of every app: render/<env>/all-apps
# Names no app may take whatever trust.yaml says, because the renderer's own layout uses them.
ALWAYS_RESERVED = (
    "modules",  # terraform/<env>/modules/ holds the environment's modules
    ALL_APPS_SCOPE,  # an app so named would share the branch of every --all-apps publish
)


@dataclass(frozen=True, slots=True)
class Trust:
    """Who may do what (platform-config/trust.yaml): the walls between apps and the platform."""

    platform_identity: str = ""  # the project whose pipeline may publish and remove every app
    audience: str = "platform-renderer"  # the aud claim of app pipelines' ID tokens
    reserved_names: tuple[str, ...] = ()  # exact names, or prefixes ending in *
    max_name_length: int = 40
    names: Mapping[str, str] = field(default_factory=dict)  # project path → app name, where declared
    annotation_prefixes: tuple[str, ...] = ()
    label_prefixes: tuple[str, ...] = ()
    profile_classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # env type → classes
    secret_allow: tuple[Allowance, ...] = ()
    limits: Limits = field(default_factory=Limits)
    teams: Mapping[str, Team] = field(default_factory=dict)  # team name → team
    # the team charged for an app no team lists, and for the platform's shared scope
    platform_team: Team = Team("platform", "unassigned")

    def team_of(self, app: str | None) -> Team:
        """The team an app belongs to; the platform's team for shared objects and unlisted apps."""
        found = (t for t in self.teams.values() if app is not None and app in t.apps)
        return next(found, self.platform_team)

    def reserved(self, name: str) -> bool:
        if name in ALWAYS_RESERVED:
            return True
        return any(name == r or (r.endswith("*") and name.startswith(r[:-1])) for r in self.reserved_names)


@dataclass(frozen=True, slots=True)
class ApiStatus:
    """One row of platform-config/apis.yaml: a group/version (some of its kinds), by version served."""

    group_version: str
    kinds: tuple[str, ...]  # empty: every kind of the group/version
    introduced: str | None
    deprecated: str | None
    removed: str | None
    replacement: str

    def covers(self, api_version: str, kind: str) -> bool:
        return self.group_version == api_version and (not self.kinds or kind in self.kinds)


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator the clusters run (a prerequisite), the API groups it serves, at which version."""

    name: str
    version: str
    groups: tuple[str, ...]
    apis: tuple[ApiStatus, ...]
    environments: tuple[str, ...] | None = None  # the environment ids whose clusters run it; None: all


@dataclass(frozen=True, slots=True)
class ApiTable:
    """platform-config/apis.yaml: what each Kubernetes minor and each installed operator serves."""

    file: str = ""  # empty: the platform has no table (only the Kubernetes schemas are checked)
    minors: tuple[str, ...] = ()
    kubernetes: tuple[ApiStatus, ...] = ()
    operators: tuple[Operator, ...] = ()

    def operator_for(self, group: str) -> Operator | None:
        return next((o for o in self.operators if group in o.groups), None)

    def serves(self, group: str, env_id: str) -> bool:
        """Whether the environment's cluster runs the operator serving `group` (its CRDs installed)."""
        operator = self.operator_for(group)
        return operator is not None and (operator.environments is None or env_id in operator.environments)


@dataclass(frozen=True, slots=True)
class Platform:
    """Everything the platform team owns, validated."""

    root: str
    environments: Mapping[str, Environment]
    definitions: tuple[ResourceDefinition, ...]
    profiles: tuple[Profile, ...]
    modules: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    module_variables: Mapping[str, frozenset[str]] = field(default_factory=dict)
    module_required: Mapping[str, frozenset[str]] = field(default_factory=dict)
    policies: Mapping[str, PolicySource] = field(default_factory=dict)  # set name → its files
    trust: Trust = field(default_factory=Trust)
    apis: ApiTable = field(default_factory=ApiTable)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret is only ever a reference: an AWS Secrets Manager path+key or an in-cluster Secret."""

    key: str
    path: str = ""  # AWS Secrets Manager secret name
    secret: str = ""  # in-cluster Secret name (resources the platform runs in the namespace)

    def describe(self) -> str:
        if self.secret:
            return f"secret://kubernetes/{self.secret}#{self.key}"
        return f"secret://aws-secrets-manager/{self.path}#{self.key}"


@dataclass(frozen=True, slots=True)
class ConstraintTemplate:
    """A Gatekeeper ConstraintTemplate: the constraint kind it defines and its Rego (target
    admission.k8s.gatekeeper.sh), with the `libs` it brings."""

    kind: str  # spec.crd.spec.names.kind
    rego: str
    libs: tuple[str, ...]
    file: str
    line: int  # where the Rego starts in the file


@dataclass(frozen=True, slots=True)
class Constraint:
    """A Gatekeeper constraint as render time applies it."""

    kind: str  # the template's kind
    name: str
    parameters: Mapping[str, Json]
    match: Mapping[str, Json]
    action: str  # at render time: deny, warn or dryrun; "" when it is scoped to other points only
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Expansion:
    """A Gatekeeper ExpansionTemplate: the object a workload implies (a Deployment's Pod), reviewed
    beside it as gator test does."""

    name: str
    apply_to: tuple[tuple[frozenset[str], frozenset[str], frozenset[str]], ...]  # groups, versions, kinds
    source: tuple[str, ...]  # templateSource, split at dots: ("spec", "template")
    generated: tuple[str, str, str]  # group, version, kind
    action: str  # replaces the constraint's enforcement action on what it implies; "" keeps it
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class PolicySource:
    """One policy set as read from `policies/<set>/`: Rego files, their tests, and data files;
    and the Gatekeeper templates and constraints among its YAML files."""

    files: Mapping[str, str]  # policy file → text (tests excluded)
    tests: Mapping[str, str]
    data: Mapping[str, Json]
    templates: tuple[ConstraintTemplate, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    expansions: tuple[Expansion, ...] = ()
