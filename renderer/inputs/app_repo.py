"""App directories → App values: Score files, per-environment overrides, file sources."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping
from typing import cast

from renderer.data import Doc, Json, as_json
from renderer.errors import Collector, InputError, Problem
from renderer.inputs import score
from renderer.inputs.documents import display, read_one_doc
from renderer.inputs.overrides import merge_patch
from renderer.model import App, Workload, WorkloadSpec

SCORE_GLOB = "score*.yaml"


def _app(directory: str, root: str, app_id: str | None, problems: Collector) -> App:
    directory = os.path.abspath(directory)
    ident = app_id or os.path.basename(directory.rstrip("/"))
    workloads = _workloads(directory, ident, root, problems)
    overrides = _overrides(directory, root, workloads, problems)
    base = tuple(workloads[k] for k in sorted(workloads))
    variants = {env: _variant(base, patches, problems) for env, patches in sorted(overrides.items())}
    first_files = {env: next(iter(p.values())).file for env, p in overrides.items()}
    return App(ident, directory, base, variants, first_files)


def _workloads(directory: str, ident: str, root: str, problems: Collector) -> dict[str, Workload]:
    """Every `score*.yaml` of the app, one workload each, names unique."""
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
    return workloads


def _overrides(
    directory: str, root: str, workloads: Mapping[str, Workload], problems: Collector
) -> dict[str, dict[str, Doc]]:
    """`overrides/<env>/<workload>.yaml`: env id → workload name → its merge patch."""
    overrides: dict[str, dict[str, Doc]] = {}
    for file in sorted(glob.glob(os.path.join(directory, "overrides", "*", "*.yaml"))):
        env_id = os.path.basename(os.path.dirname(file))
        name = os.path.splitext(os.path.basename(file))[0]
        doc = read_one_doc(file, root, problems)
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
    return overrides


def _workload_file(file: str, app: str, root: str, problems: Collector) -> Workload | None:
    doc = read_one_doc(file, root, problems)
    if doc is None:
        return None
    data, issues = score.upgrade(doc.data)
    for path, message in issues:
        problems.extend([doc.problem(path, message)])
    if issues:
        return None
    base = os.path.dirname(file)
    spec = _validate(data, doc, base, problems)
    if spec is None:
        return None
    return Workload(
        app,
        spec["metadata"]["name"],
        doc.file,
        base,
        spec,
        doc,
        _sources(spec, base),
        os.path.basename(file),
    )


def _validate(data: Json, doc: Doc, base: str, problems: Collector) -> WorkloadSpec | None:
    """The one place a Score document becomes a WorkloadSpec: validated once, trusted after."""
    found = score.check_schema(data, doc)
    if not found:
        # Sound: `data` has just passed schemas/score-v1b1.json, after `upgrade` turned the deprecated
        # list forms into maps (a list it cannot turn into a map fails the schema), and WorkloadSpec
        # mirrors that schema. The semantic checks read it typed; only a spec that passes both leaves.
        spec = cast(WorkloadSpec, data)
        found = score.check_semantics(spec, doc, base)
        if not found:
            return spec
    problems.extend(found)
    return None


def _sources(spec: WorkloadSpec, base: str) -> dict[str, bytes]:
    """Read every file `source:` once, here at the edge, so rendering stays pure."""
    out: dict[str, bytes] = {}
    for container in spec["containers"].values():
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
        merged, _ = score.upgrade(merge_patch(as_json(wl.spec), patch.data))
        doc = Doc(wl.doc.file, merged, wl.doc.lines, overlay=patch)
        spec = _validate(merged, doc, wl.base_dir, problems)
        if spec is None:
            continue  # reported; load_apps raises before any App leaves
        if spec["metadata"]["name"] != wl.name:
            problems.extend([patch.problem(["metadata", "name"], "an override cannot rename")])
        sources = _sources(spec, wl.base_dir)
        out.append(Workload(wl.app, wl.name, wl.file, wl.base_dir, spec, doc, sources, wl.rel))
    return tuple(out)


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
