"""The platform root → a Platform: environments, resource definitions, profiles, modules, policies."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import cast

from renderer.data import Doc, Json
from renderer.errors import Collector, InputError, Problem
from renderer.inputs import schema
from renderer.inputs.apis import check_versions, load_apis
from renderer.inputs.confine import read_file
from renderer.inputs.documents import display, glob_files, valid_docs
from renderer.inputs.platform_docs import (
    AccessDoc,
    CriterionDoc,
    EnvironmentDoc,
    OwnershipDoc,
    ResourceDefinitionDoc,
    TrustDoc,
    WorkloadProfileDoc,
)
from renderer.inputs.policies import read_source
from renderer.inputs.yamlio import json_line, load_json
from renderer.model import (
    Access,
    Allowance,
    Criterion,
    Environment,
    Limits,
    Platform,
    PolicySource,
    Profile,
    ResourceDefinition,
    Team,
    Trust,
    Use,
)


def load_platform(root: str) -> Platform:
    problems = Collector("platform")
    envs = _environments(root, problems)
    modules, variables, required = _modules(root, problems)
    definitions = _definitions(root, problems, variables, required)
    profiles = _profiles(root, problems)
    policies = _policies(root, envs, problems)
    trust = _trust(root, problems)
    apis = load_apis(root, problems)
    check_versions(envs, apis, problems)
    problems.raise_if_any()
    return Platform(root, envs, definitions, profiles, modules, variables, required, policies, trust, apis)


TRUST_FILE = "platform-config/trust.yaml"


def _trust(root: str, problems: Collector) -> Trust:
    """Who may do what: required, so that a platform states its walls rather than inheriting none."""
    found = list(valid_docs(root, problems, "trust", *TRUST_FILE.split("/")))
    if not found:
        if not os.path.isfile(os.path.join(root, TRUST_FILE)):
            problems.add(
                TRUST_FILE, 0, "", "missing: it says who may do what", "copy the shipped one and adapt it"
            )
        return Trust()
    doc = found[0][1]
    d = cast(TrustDoc, doc.data)  # sound: valid_docs checked it against trust.json
    allow = (d.get("secret_scan") or {}).get("allow") or []
    teams, platform_team = _teams(doc, d.get("ownership"), problems)
    return Trust(
        platform_identity=d["platform"]["identity"],
        audience=d["platform"]["audience"],
        reserved_names=tuple(d["apps"]["reserved_names"]),
        max_name_length=d["apps"].get("max_name_length", 40),
        names=dict(sorted(d["apps"].get("names", {}).items())),
        annotation_prefixes=tuple(d["metadata"]["annotation_prefixes"]),
        label_prefixes=tuple(d["metadata"]["label_prefixes"]),
        profile_classes={k: tuple(v) for k, v in sorted(d["profile_classes"].items())},
        secret_allow=tuple(Allowance(a["app"], a["file"], a["path"], a["reason"]) for a in allow),
        limits=dataclasses.replace(Limits(), **d.get("limits", {})),
        teams=teams,
        platform_team=platform_team,
    )


def _teams(doc: Doc, d: OwnershipDoc | None, problems: Collector) -> tuple[dict[str, Team], Team]:
    """Teams by name, and the platform's own; an app listed by two teams is refused."""
    if d is None:
        return {}, Trust().platform_team
    teams = {
        name: Team(name, t["cost_centre"], tuple(sorted(t.get("apps", []))))
        for name, t in sorted(d["teams"].items())
    }
    owner: dict[str, str] = {}
    for team in teams.values():
        for app in team.apps:
            if app in owner:
                where = ["ownership", "teams", team.name, "apps"]
                problems.extend([doc.problem(where, f"app '{app}' is also owned by team '{owner[app]}'")])
            owner.setdefault(app, team.name)
    platform = teams.get(d["platform_team"])
    if platform is None:
        known = ", ".join(teams) or "none"
        problems.extend(
            [
                doc.problem(
                    ["ownership", "platform_team"], f"no team '{d['platform_team']}'", f"known: {known}"
                )
            ]
        )
        return teams, Trust().platform_team
    return teams, platform


def _policies(root: str, envs: dict[str, Environment], problems: Collector) -> dict[str, PolicySource]:
    """Policy sets are the directories of policies/; each set an environment names must exist."""
    sets: dict[str, PolicySource] = {}
    known: set[str] = set()  # a set with a file that cannot be read still exists: that is its only problem
    for directory in glob_files(root, "policies", "*", ""):
        name = os.path.basename(directory.rstrip("/"))
        known.add(name)
        try:
            sets[name] = read_source(directory, "policies")
        except InputError as exc:
            problems.extend(exc.problems())
    for env in envs.values():
        for name in sorted(env.policies):
            if name not in known:
                problems.extend(
                    [
                        env.doc.problem(
                            ["policies", name],
                            f"no policy set '{name}' in policies/",
                            f"known: {', '.join(sorted(known)) or 'none'}",
                        )
                    ]
                )
    return sets


def _environments(root: str, problems: Collector) -> dict[str, Environment]:
    envs: dict[str, Environment] = {}
    for file, doc in valid_docs(root, problems, "environment", "environments", "*.yaml"):
        d = cast(EnvironmentDoc, doc.data)  # sound: valid_docs checked it against environment.json
        stem = os.path.splitext(os.path.basename(file))[0]
        if d["id"] != stem:
            problems.extend([doc.problem(["id"], f"id '{d['id']}' differs from the file name '{stem}'")])
            continue
        cluster, aws = d["cluster"], d["aws"]
        envs[d["id"]] = Environment(
            id=d["id"],
            type=d["type"],
            file=doc.file,
            cluster_name=cluster["name"],
            kubernetes_version=cluster["kubernetes_version"],
            namespace_pattern=cluster.get("namespace", "{app}-{env}"),
            shared_namespace=cluster.get("shared_namespace", f"platform-{d['id']}"),
            domain=cluster.get("domain", f"{d['id']}.example.internal"),
            account_id=aws["account_id"],
            region=aws["region"],
            role_arn=aws["role_arn"],
            state_bucket=aws["state_bucket"],
            state_key_prefix=aws.get("state_key_prefix", ""),
            secret_prefix=aws["secret_prefix"],
            allowed_registries=tuple(aws.get("allowed_registries", [])),
            delivery=d["delivery"]["mode"],
            branch=d["delivery"].get("branch", "main"),
            policies=dict(d.get("policies", {})),
            doc=doc,
            values=dict(d.get("values", {})),
            gitops=d["delivery"].get("gitops", "flux"),
            gitops_source=d["delivery"].get("source", "flux-system"),
            prerequisites=tuple(d["delivery"].get("prerequisites", [])),
            ingress_namespace=cluster.get("ingress_namespace", "ingress-nginx"),
            oidc_provider=aws["oidc_provider"],
            check_role=aws.get("check_role", ""),
            pin_images=aws.get("pin_images", False),
        )
    if not envs:
        problems.add("environments", 0, "", "no environment definitions found")
    return envs


def _criteria(raw: Sequence[CriterionDoc] | None) -> tuple[Criterion, ...]:
    items: list[CriterionDoc] = list(raw) if raw is not None else [{}]
    return tuple(
        Criterion(c.get("env_type"), c.get("env"), c.get("app"), c.get("res_id"), c.get("class"))
        for c in items
    )


def _modules(
    root: str, problems: Collector
) -> tuple[dict[str, dict[str, bytes]], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Each folder of platform-config/modules/ is a module of .tf.json files; its declared variables."""
    modules: dict[str, dict[str, bytes]] = {}
    variables: dict[str, frozenset[str]] = {}
    required: dict[str, frozenset[str]] = {}
    for directory in glob_files(root, "platform-config", "modules", "*"):
        name = os.path.basename(directory)
        if not os.path.isdir(directory):
            problems.add(
                display(directory, root), 0, "", "a module is a folder", "put its .tf.json files in a folder"
            )
            continue
        files: dict[str, bytes] = {}
        declared: dict[str, Json] = {}  # variable name → its block
        for file in sorted(os.listdir(directory)):
            shown = display(os.path.join(directory, file), root)
            data = _module_file(os.path.join(directory, file), shown, problems)
            if data is None:
                continue
            files[file] = data
            if file.endswith(".tf.json"):
                declared.update(_declared(data, shown, problems))
            elif file.endswith(".tf"):
                problems.add(shown, 0, "", "modules are written as .tf.json so their inputs can be checked")
        modules[name] = files
        variables[name] = frozenset(declared)
        required[name] = frozenset(k for k, v in declared.items() if not _has_default(v))
    return modules, variables, required


def _module_file(path: str, shown: str, problems: Collector) -> bytes | None:
    if os.path.isdir(path):
        problems.add(shown, 0, "", "a module holds files only, no folders")
        return None
    try:
        return read_file(path, shown)
    except InputError as exc:
        problems.extend(exc.problems())
        return None


def _declared(data: bytes, shown: str, problems: Collector) -> Mapping[str, Json]:
    """The `variable` blocks of a module's .tf.json (Terraform's JSON syntax: an object of objects)."""
    try:
        body = load_json(data, shown)
    except InputError as exc:
        problems.extend(exc.problems())
        return {}
    if not isinstance(body, Mapping):
        problems.add(shown, json_line(data, shown, ()), "", "the top level must be a JSON object")
        return {}
    declared = body.get("variable", {})
    if not isinstance(declared, Mapping):
        where = json_line(data, shown, ("variable",))
        problems.add(shown, where, "variable", "must be an object: variable name → its block")
        return {}
    return declared


def _has_default(variable: Json) -> bool:
    """A Terraform variable block with a `default` may be left out."""
    return isinstance(variable, Mapping) and "default" in variable


def _definitions(
    root: str,
    problems: Collector,
    variables: dict[str, frozenset[str]],
    required: dict[str, frozenset[str]],
) -> tuple[ResourceDefinition, ...]:
    defs: list[ResourceDefinition] = []
    for _, doc in valid_docs(
        root, problems, "resource-definition", "platform-config", "resources", "**", "*.yaml"
    ):
        defs.append(_definition(doc, problems, variables, required))
    _duplicates(defs, problems)
    types = {d.type for d in defs}
    for d in defs:
        for use in d.uses:
            if use.type not in types:
                problems.extend(
                    [
                        d.doc.problem(
                            ["uses", use.alias, "type"],
                            f"no resource definition has type '{use.type}'",
                        )
                    ]
                )
    return tuple(sorted(defs, key=lambda d: d.id))


def _definition(
    doc: Doc,
    problems: Collector,
    variables: dict[str, frozenset[str]],
    required: dict[str, frozenset[str]],
) -> ResourceDefinition:
    d = cast(ResourceDefinitionDoc, doc.data)  # sound: valid_docs checked it (resource-definition.json)
    params_schema = d.get("params_schema")
    if params_schema is not None and not schema.meta_valid_fast(params_schema):
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(params_schema)
        except SchemaError as exc:
            problems.extend([doc.problem(["params_schema"], f"not a valid JSON Schema: {exc.message}")])
    module = d.get("module")
    source = module["source"] if module is not None else ""
    inputs = module.get("inputs", {}) if module is not None else {}
    if d["driver"] == "terraform":
        problems.extend(_module_problems(doc, source, inputs, variables, required))
    uses = tuple(
        Use(alias, u["type"], u.get("class", "default"), u.get("id", "default"))
        for alias, u in sorted(d.get("uses", {}).items())
    )
    return ResourceDefinition(
        id=d["id"],
        type=d["type"],
        klass=d.get("class", "default"),
        criteria=_criteria(d.get("criteria")),
        driver=d["driver"],
        params_schema=params_schema,
        uses=uses,
        template=d.get("template", ""),
        module_source=source,
        module_inputs=inputs,
        outputs=d.get("outputs", {}),
        secret_outputs=d.get("secret_outputs", {}),
        file=doc.file,
        doc=doc,
        access=_access(d.get("access") or {}),
        outputs_from=d.get("outputs_from", ""),
    )


def _access(d: AccessDoc) -> Access:
    apps = d.get("apps", "all")
    params = d.get("params")
    return Access(
        apps=tuple(apps) if not isinstance(apps, str) else ("none" if apps == "none" else "all"),
        params=tuple(params) if params is not None else None,
        shared=d.get("shared", "app"),
    )


def _module_problems(
    doc: Doc,
    source: str,
    inputs: Mapping[str, object],
    variables: Mapping[str, frozenset[str]],
    required: Mapping[str, frozenset[str]],
) -> list[Problem]:
    """A Terraform definition names a shipped module and passes exactly the variables it declares."""
    if source not in variables:
        known = ", ".join(sorted(variables)) or "none"
        return [
            doc.problem(
                ["module", "source"], f"no module '{source}' in platform-config/modules", f"known: {known}"
            )
        ]
    problems = [
        doc.problem(["module", "inputs", name], f"module '{source}' declares no variable '{name}'")
        for name in sorted(set(inputs) - variables[source])
    ]
    problems += [
        doc.problem(["module", "inputs"], f"module '{source}' requires input '{name}'")
        for name in sorted(required[source] - set(inputs))
    ]
    return problems


def _duplicates(defs: list[ResourceDefinition], problems: Collector) -> None:
    seen: dict[tuple[str, str, Criterion], ResourceDefinition] = {}
    ids: dict[str, ResourceDefinition] = {}
    for d in defs:
        if d.id in ids:
            problems.extend([d.doc.problem(["id"], f"id '{d.id}' is also used in {ids[d.id].file}")])
        ids[d.id] = d
        for c in d.criteria:
            key = (d.type, d.klass, c)
            if key in seen and seen[key].id != d.id:
                other = seen[key]
                problems.extend(
                    [
                        d.doc.problem(
                            ["criteria"],
                            f"'{d.id}' and '{other.id}' ({other.file}) match exactly the same requests "
                            f"({d.type}/{d.klass}, {c.describe()})",
                            "make one more specific or remove one",
                        )
                    ]
                )
            seen.setdefault(key, d)


def _profiles(root: str, problems: Collector) -> tuple[Profile, ...]:
    profiles: list[Profile] = []
    criteria_lines: dict[str, int] = {}  # profile file → the line of its `criteria`
    for _, doc in valid_docs(root, problems, "workload-profile", "platform-config", "profiles", "*.yaml"):
        criteria_lines[doc.file] = doc.line(["criteria"])
        d = cast(WorkloadProfileDoc, doc.data)  # sound: valid_docs checked it (workload-profile.json)
        profiles.append(
            Profile(
                id=d["id"],
                klass=d.get("class", "default"),
                criteria=_criteria(d.get("criteria")),
                workload_kind=d["workload_kind"],
                replicas=d.get("replicas", 1),
                disruption_budget=d.get("disruption_budget"),
                topology_spread=tuple(d.get("topology_spread", [])),
                pod_security_context=d.get("pod_security_context", {}),
                container_security_context=d.get("container_security_context", {}),
                default_resources=d.get("default_resources", {}),
                labels=d.get("labels", {}),
                annotations=d.get("annotations", {}),
                patches=tuple(d.get("patches", [])),
                file=doc.file,
                namespace_quota=d.get("namespace_quota", {}),
                limit_range=d.get("limit_range", {}),
                observability=d.get("observability"),
                doc=doc,
            )
        )
    seen: dict[tuple[str, Criterion], str] = {}
    for p in profiles:
        for c in p.criteria:
            if (p.klass, c) in seen:
                problems.add(
                    p.file,
                    criteria_lines[p.file],
                    "criteria",
                    f"profile '{p.id}' matches the same workloads as '{seen[(p.klass, c)]}'",
                )
            seen[(p.klass, c)] = p.id
    return tuple(sorted(profiles, key=lambda p: p.id))
