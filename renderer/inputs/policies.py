"""Policy sets on disk (`policies/<set>/`) → PolicySource values: Rego text, tests, data files, and
the Gatekeeper ConstraintTemplates and constraints among the YAML files (told apart by apiVersion)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from renderer.data import Doc, Json, deep_merge
from renderer.errors import Collector, InputError, Problem
from renderer.inputs import gatekeeper
from renderer.inputs.confine import read_file
from renderer.inputs.yamlio import load_json, load_text
from renderer.model import PolicySource


def read_source(directory: str, display: str = "") -> PolicySource:
    """Every .rego and data file below `directory`, in sorted order; InputError with every file that
    cannot be read. Problems name files as `display/<set>/…` (`display`: how `directory`'s parent
    is shown); the Rego files keep their names inside the parent, which the engine reports."""
    files: dict[str, str] = {}
    tests: dict[str, str] = {}
    data: dict[str, Json] = {}
    admission: list[Doc] = []  # Gatekeeper templates and constraints
    problems = Collector()
    for base, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, os.path.dirname(directory.rstrip("/")))
            shown = os.path.join(display, rel) if display else rel
            if not name.endswith((".rego", ".json", ".yaml", ".yml")):
                continue
            try:
                text = _read(path, shown)
                if name.endswith("_test.rego"):
                    tests[rel] = text
                elif name.endswith(".rego"):
                    files[rel] = text
                elif _admission(text, shown, admission, problems):
                    continue
                else:
                    loaded = _data(text, shown)
                    if isinstance(loaded, dict):
                        data = deep_merge(data, loaded)
            except InputError as exc:
                problems.extend(exc.problems())
    templates, constraints, expansions = gatekeeper.read(admission, problems)
    problems.raise_if_any()
    return PolicySource(files, tests, data, templates, constraints, expansions)


def _admission(text: str, shown: str, found: list[Doc], problems: Collector) -> bool:
    """Whether a YAML file holds Gatekeeper documents (added to `found`), not conftest data; a file
    that mixes them with other documents is a problem."""
    if not shown.endswith((".yaml", ".yml")):
        return False
    docs = load_text(text, shown)
    ours = [d for d in docs if gatekeeper.is_gatekeeper(d)]
    if not ours:
        return False
    for doc in docs:
        if doc not in ours:
            kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
            problems.extend(
                [
                    doc.problem(
                        [],
                        f"a {kind or 'document'} among Gatekeeper objects: a policy set's YAML file is "
                        "either Gatekeeper objects or conftest data",
                        "move it to a file of its own",
                    )
                ]
            )
    found.extend(ours)
    return True


def read_test_paths(paths: Sequence[str]) -> PolicySource:
    """What `opa test PATH…` loads: every .rego file under each path (a file or a folder, recursively)
    and every data file (.json, .yaml, .yml) mounted at the folders between its path argument and
    itself (`p/a/b/x.json` under `p` is `data.a.b`; a file given by name is `data`). Files are named
    as the paths given name them. InputError with every file that cannot be read, every data file
    that does not parse, and every two data files that set the same value."""
    modules: dict[str, str] = {}
    data: dict[str, Json] = {}
    problems = Collector()
    for shown, mount in _walk(paths):
        try:
            text = _read(shown, shown)
            if shown.endswith(".rego"):
                modules[shown] = text
                continue
            if _admission(text, shown, [], Collector()):
                continue  # Gatekeeper objects are not data: the render checks them
            loaded = _data(text, shown)
            if loaded is not None:
                _mount(data, mount, loaded, shown)
        except InputError as exc:
            problems.extend(exc.problems())
    problems.raise_if_any()
    return PolicySource(modules, {}, data)


def _walk(paths: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Each loadable file below the paths, with the folders that mount its data, in sorted order."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for path in paths:
        if not os.path.isdir(path):
            found.append((path, ()))
            continue
        for base, dirs, names in os.walk(path):
            dirs.sort()
            rel = os.path.relpath(base, path)
            mount = () if rel == "." else tuple(rel.split(os.sep))
            found.extend(
                (os.path.join(base, name), mount)
                for name in sorted(names)
                if name.endswith((".rego", ".json", ".yaml", ".yml"))
            )
    return found


def _mount(data: dict[str, Json], mount: Sequence[str], value: Json, shown: str) -> None:
    """Set `value` at `mount` in `data`, merging objects; two files giving one key two values is an
    error, as OPA's loader reports it (and a file at the root must hold an object)."""
    if not mount:
        if not isinstance(value, dict):
            raise InputError(Problem(shown, 0, "", "data at the root of a path must be an object"))
        for key, item in value.items():
            _mount(data, (key,), item, shown)
        return
    key, rest = mount[0], mount[1:]
    here = data.get(key)
    if rest:
        if here is None:
            here = data[key] = {}
        if not isinstance(here, dict):
            raise InputError(Problem(shown, 0, key, "merge error: this key already holds a value"))
        _mount(here, rest, value, shown)
        return
    if here is None:
        data[key] = value
    elif isinstance(here, dict) and isinstance(value, dict):
        for sub, item in value.items():
            _mount(here, (sub,), item, shown)
    else:
        raise InputError(Problem(shown, 0, key, "merge error: another data file sets this key"))


def _data(text: str, name: str) -> Json:
    if name.endswith(".json"):
        return load_json(text, name)
    docs = load_text(text, name)
    return docs[0].data if docs else None


def _read(path: str, name: str) -> str:
    data = read_file(path, name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(name, 0, "", f"cannot read: {exc}")) from None
