"""Files on disk → validated model values; every problem in one InputError."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from renderer.errors import Collector, InputError, Problem
from renderer.inputs import schema, score
from renderer.inputs.overrides import merge_patch
from renderer.inputs.policies import read_source
from renderer.inputs.yamlio import YamlLoadError, load_file
from renderer.model import (
    App,
    Criterion,
    Doc,
    Environment,
    Platform,
    PolicySource,
    Profile,
    ResourceDefinition,
    Use,
    Workload,
)

SCORE_GLOB = "score*.yaml"


def display(path: str, root: str) -> str:
    """Paths in messages are relative to the project root when they are inside it."""
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel


def _docs(path: str, root: str, problems: Collector) -> list[Doc]:
    try:
        docs = load_file(path, display(path, root))
    except YamlLoadError as exc:
        problems.extend(exc.problems())
        return []
    for doc in docs:
        if not isinstance(doc.data, dict):
            problems.extend([doc.problem([], "the document must be a mapping")])
    return [d for d in docs if isinstance(d.data, dict)]


def _one_doc(path: str, root: str, problems: Collector) -> Doc | None:
    docs = _docs(path, root, problems)
    if len(docs) > 1:
        problems.add(docs[1].file, docs[1].line([]), "", "one document per file is expected")
    return docs[0] if docs else None


# ---- apps ---------------------------------------------------------------------------------


def _app(directory: str, root: str, app_id: str | None, problems: Collector) -> App:
    directory = os.path.abspath(directory)
    ident = app_id or os.path.basename(directory.rstrip("/"))
    files = sorted(glob.glob(os.path.join(directory, SCORE_GLOB)))
    if not files:
        problems.add(display(directory, root), 0, "", f"no {SCORE_GLOB} files in this app directory")
    workloads: dict[str, Workload] = {}
    for file in files:
        wl = _workload_file(file, ident, root, problems)
        if wl is None:
            continue
        if wl.name in workloads:
            problems.add(
                wl.file,
                wl.doc.line(["metadata", "name"]),
                "metadata.name",
                f"workload '{wl.name}' is also defined in {workloads[wl.name].file}",
                "workload names must be unique within an app",
            )
            continue
        workloads[wl.name] = wl
    overrides: dict[str, dict[str, Doc]] = {}
    for file in sorted(glob.glob(os.path.join(directory, "overrides", "*", "*.yaml"))):
        env_id = os.path.basename(os.path.dirname(file))
        name = os.path.splitext(os.path.basename(file))[0]
        doc = _one_doc(file, root, problems)
        if doc is None:
            continue
        if name not in workloads:
            problems.add(
                doc.file,
                1,
                "",
                f"override for unknown workload '{name}'",
                f"workloads in this app: {', '.join(sorted(workloads)) or 'none'}",
            )
            continue
        overrides.setdefault(env_id, {})[name] = doc
    base = tuple(workloads[k] for k in sorted(workloads))
    variants = {env: _variant(base, patches, problems) for env, patches in sorted(overrides.items())}
    first_files = {env: next(iter(p.values())).file for env, p in overrides.items()}
    return App(ident, directory, base, variants, first_files)


def _workload_file(file: str, app: str, root: str, problems: Collector) -> Workload | None:
    doc = _one_doc(file, root, problems)
    if doc is None:
        return None
    data, issues = score.upgrade(doc.data)
    for path, message in issues:
        problems.extend([doc.problem(path, message)])
    if issues:
        return None
    found = score.check(data, doc, os.path.dirname(file))
    problems.extend(found)
    if found:
        return None
    base = os.path.dirname(file)
    return Workload(
        app,
        data["metadata"]["name"],
        doc.file,
        base,
        data,
        doc,
        _sources(data, base),
        os.path.basename(file),
    )


def _sources(data: dict[str, Any], base: str) -> dict[str, bytes]:
    """Read every file `source:` once, here at the edge, so rendering stays pure."""
    out: dict[str, bytes] = {}
    for container in data["containers"].values():
        for f in (container.get("files") or {}).values():
            if "source" in f and f["source"] not in out:
                with open(os.path.join(base, f["source"]), "rb") as fh:
                    out[f["source"]] = fh.read()
    return out


def _variant(
    base: tuple[Workload, ...], patches: dict[str, Doc], problems: Collector
) -> tuple[Workload, ...]:
    """The workloads with one environment's JSON Merge Patches applied, checked again."""
    out = []
    for wl in base:
        patch = patches.get(wl.name)
        if patch is None:
            out.append(wl)
            continue
        merged, _ = score.upgrade(merge_patch(wl.spec, patch.data))
        doc = Doc(wl.doc.file, merged, wl.doc.lines, overlay=patch)
        found = score.check(merged, doc, wl.base_dir)
        problems.extend(found)
        if not found and merged["metadata"]["name"] != wl.name:
            problems.extend([patch.problem(["metadata", "name"], "an override cannot rename")])
        sources = _sources(merged, wl.base_dir) if not found else {}
        out.append(Workload(wl.app, wl.name, wl.file, wl.base_dir, merged, doc, sources, wl.rel))
    return tuple(out)


# ---- platform -----------------------------------------------------------------------------


def load_platform(root: str) -> Platform:
    problems = Collector()
    envs = _environments(root, problems)
    modules, variables, required = _modules(root, problems)
    definitions = _definitions(root, problems, variables, required)
    profiles = _profiles(root, problems)
    policies = _policies(root, envs, problems)
    problems.raise_if_any()
    return Platform(root, envs, definitions, profiles, modules, variables, required, policies)


def _policies(root: str, envs: dict[str, Environment], problems: Collector) -> dict[str, PolicySource]:
    """Policy sets are the directories of policies/; each set an environment names must exist."""
    sets: dict[str, PolicySource] = {}
    for directory in _files(root, "policies", "*", ""):
        name = os.path.basename(directory.rstrip("/"))
        try:
            sets[name] = read_source(directory, "policies")
        except InputError as exc:
            problems.extend(exc.problems())
    for env in envs.values():
        for name in sorted(env.policies):
            if name not in sets:
                problems.extend(
                    [
                        env.doc.problem(
                            ["policies", name],
                            f"no policy set '{name}' in policies/",
                            f"known: {', '.join(sorted(sets)) or 'none'}",
                        )
                    ]
                )
    return sets


def _files(root: str, *parts: str) -> list[str]:
    return sorted(glob.glob(os.path.join(root, *parts), recursive=True))


def _valid_docs(root: str, problems: Collector, schema_name: str, *parts: str) -> Iterator[tuple[str, Doc]]:
    """Every document of the matching files that passes its schema; the rest become problems.

    Resource definitions may share a file; environments and profiles are one per file."""
    for file in _files(root, *parts):
        docs = _docs(file, root, problems)
        if schema_name != "resource-definition" and len(docs) > 1:
            problems.add(docs[1].file, docs[1].line([]), "", "one document per file is expected")
            docs = docs[:1]
        for doc in docs:
            found = schema.check(schema_name, doc.data, doc)
            problems.extend(found)
            if not found:
                yield file, doc


def _environments(root: str, problems: Collector) -> dict[str, Environment]:
    envs: dict[str, Environment] = {}
    for file, doc in _valid_docs(root, problems, "environment", "environments", "*.yaml"):
        d = doc.data
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
        )
    if not envs:
        problems.add("environments", 0, "", "no environment definitions found")
    return envs


def _criteria(raw: Iterable[dict[str, str]] | None) -> tuple[Criterion, ...]:
    items = list(raw) if raw is not None else [{}]
    return tuple(
        Criterion(c.get("env_type"), c.get("env"), c.get("app"), c.get("res_id"), c.get("class"))
        for c in items
    )


def _modules(
    root: str, problems: Collector
) -> tuple[dict[str, dict[str, bytes]], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    modules: dict[str, dict[str, bytes]] = {}
    variables: dict[str, frozenset[str]] = {}
    required: dict[str, frozenset[str]] = {}
    for directory in _files(root, "platform-config", "modules", "*"):
        name = os.path.basename(directory)
        files: dict[str, bytes] = {}
        declared: dict[str, Any] = {}
        for file in sorted(os.listdir(directory)):
            with open(os.path.join(directory, file), "rb") as fh:
                files[file] = fh.read()
            if file.endswith(".tf.json"):
                try:
                    body = json.loads(files[file])
                except ValueError as exc:
                    problems.add(
                        display(os.path.join(directory, file), root),
                        0,
                        "",
                        f"not valid JSON: {exc}",
                    )
                    continue
                declared.update(body.get("variable", {}))
            elif file.endswith(".tf"):
                problems.add(
                    display(os.path.join(directory, file), root),
                    0,
                    "",
                    "modules are written as .tf.json so their inputs can be checked",
                )
        modules[name] = files
        variables[name] = frozenset(declared)
        required[name] = frozenset(k for k, v in declared.items() if "default" not in (v or {}))
    return modules, variables, required


def _definitions(
    root: str,
    problems: Collector,
    variables: dict[str, frozenset[str]],
    required: dict[str, frozenset[str]],
) -> tuple[ResourceDefinition, ...]:
    defs: list[ResourceDefinition] = []
    for _, doc in _valid_docs(
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
    d = doc.data
    params_schema = d.get("params_schema")
    if params_schema is not None:
        try:
            Draft202012Validator.check_schema(params_schema)
        except SchemaError as exc:
            problems.extend([doc.problem(["params_schema"], f"not a valid JSON Schema: {exc.message}")])
    module = d.get("module", {})
    source = module.get("source", "")
    inputs = module.get("inputs", {})
    if d["driver"] == "terraform":
        if source not in variables:
            problems.extend(
                [
                    doc.problem(
                        ["module", "source"],
                        f"no module '{source}' in platform-config/modules",
                        f"known: {', '.join(sorted(variables)) or 'none'}",
                    )
                ]
            )
        else:
            for name in sorted(set(inputs) - variables[source]):
                problems.extend(
                    [
                        doc.problem(
                            ["module", "inputs", name],
                            f"module '{source}' declares no variable '{name}'",
                        )
                    ]
                )
            for name in sorted(required[source] - set(inputs)):
                problems.extend(
                    [doc.problem(["module", "inputs"], f"module '{source}' requires input '{name}'")]
                )
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
    )


def _duplicates(defs: list[ResourceDefinition], problems: Collector) -> None:
    seen: dict[tuple[Any, ...], ResourceDefinition] = {}
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
    for _, doc in _valid_docs(root, problems, "workload-profile", "platform-config", "profiles", "*.yaml"):
        d = doc.data
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
            )
        )
    seen: dict[tuple[str, Criterion], str] = {}
    for p in profiles:
        for c in p.criteria:
            if (p.klass, c) in seen:
                problems.add(
                    p.file,
                    1,
                    "criteria",
                    f"profile '{p.id}' matches the same workloads as '{seen[(p.klass, c)]}'",
                )
            seen[(p.klass, c)] = p.id
    return tuple(sorted(profiles, key=lambda p: p.id))


def load_apps(dirs: Iterable[str], root: str) -> tuple[App, ...]:
    problems = Collector()
    apps = [_app(d, root, None, problems) for d in dirs]
    problems.raise_if_any()
    ids: dict[str, str] = {}
    for app in apps:
        if app.id in ids:
            raise InputError(
                [
                    Problem(
                        display(app.directory, root),
                        0,
                        "",
                        f"app id '{app.id}' is also {ids[app.id]}",
                    )
                ]
            )
        ids[app.id] = app.directory
    return tuple(sorted(apps, key=lambda a: a.id))


def example_app_dirs(root: str) -> list[str]:
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "examples", "apps", "*", "")))
