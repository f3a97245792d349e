"""Objects of different apps that would fight over one thing in the cluster: an Ingress host and path.

Two apps that route the same host and path would each take the other's traffic, in whatever order
the ingress controller reads them; the renderer refuses it and names both apps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence

from renderer.data import Json, blob_id
from renderer.errors import Problem
from renderer.render.tree import Route


def ingress_file(path: str, env_ids: Collection[str]) -> str | None:
    """The scope an Ingress file the renderer writes belongs to (`kubernetes/<env>/<app>/<workload>/
    ingress-*.yaml`, or `_shared` for `kubernetes/<env>/_shared/<resource>/ingress-*.yaml`; env
    in `env_ids`), None for any other path."""
    parts = path.split("/")
    if (
        len(parts) == 5
        and parts[0] == "kubernetes"
        and parts[1] in env_ids
        and parts[4].startswith("ingress-")
        and parts[4].endswith(".yaml")
    ):
        return parts[2]
    return None


def routes_by_app(
    env_id: str, apps: Collection[str], tree: Mapping[str, bytes], documents: Mapping[str, Json]
) -> dict[str, dict[str, tuple[str, str, tuple[Route, ...]]]]:
    """For each of `apps` (rendered now), its Ingress files' digests and routes, for its index: a
    later publish of another app checks against these instead of parsing the files again, while
    the file's bytes still have that digest (`publish/selective.elsewhere`). Two digests: SHA-256,
    and git's object id, which git's index already holds, so that such a file is not even read."""
    out: dict[str, dict[str, tuple[str, str, tuple[Route, ...]]]] = {app: {} for app in apps}
    for path, data in tree.items():
        app = ingress_file(path, (env_id,))
        if app in out and path in documents:
            digest = hashlib.sha256(data).hexdigest()
            out[app][path] = (digest, blob_id(data), tuple(ingress_routes(documents[path])))
    return out


def stand_in(routes: Sequence[Route]) -> Json:
    """An Ingress holding exactly `routes`, as `ingress_routes` reads them: what the check needs of
    a recorded file."""
    rules: list[Json] = [{"host": host, "http": {"paths": [{"path": path}]}} for host, path in routes]
    return {"kind": "Ingress", "spec": {"rules": rules}}


def ingress_routes(obj: Json) -> Iterator[tuple[str, str]]:
    """(host, path) of every rule of an Ingress document."""
    if not isinstance(obj, Mapping) or obj.get("kind") != "Ingress":
        return
    spec = obj.get("spec")
    rules = spec.get("rules") if isinstance(spec, Mapping) else None
    for rule in rules if isinstance(rules, Sequence) else []:
        if not isinstance(rule, Mapping):
            continue
        host = str(rule.get("host", "*"))
        http = rule.get("http")
        paths = http.get("paths") if isinstance(http, Mapping) else None
        for entry in paths if isinstance(paths, Sequence) else []:
            if isinstance(entry, Mapping):
                yield host, str(entry.get("path", "/"))


def ingress_collisions(
    documents: Sequence[tuple[str, Json]], owners: Mapping[str, str] | None = None
) -> list[Problem]:
    """Every host and path claimed by Ingresses of two apps (the app is the folder under the env);
    `owners` (app → project) names who to talk to."""
    claims: dict[tuple[str, str], tuple[str, str]] = {}  # (host, path) → (app, file)
    problems = []
    for file, obj in documents:
        parts = file.split("/")
        if parts[0] != "kubernetes" or len(parts) < 4:
            continue
        app = parts[2]
        for route in ingress_routes(obj):
            first = claims.setdefault(route, (app, file))
            if first[0] != app:
                host, path = route
                problems.append(
                    Problem(
                        file,
                        0,
                        "spec.rules",
                        f"host {host} path {path} is also routed by {_who(first[0], owners)} ({first[1]}); "
                        f"{_who(app, owners)} cannot take it",
                        "choose another host or path",
                    )
                )
    return problems


def _who(app: str, owners: Mapping[str, str] | None) -> str:
    owner = (owners or {}).get(app)
    return f"app '{app}' (owner {owner})" if owner else f"app '{app}'"
