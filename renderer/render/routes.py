"""Where a rendered scope answers: the URLs of its Ingresses, Gateway API HTTPRoutes and OpenShift
Routes, read from the rendered objects (so they are what the cluster will serve, whatever resource
definition made them).

Hosts and paths come from templates that may carry an app's values, so only a DNS name (no
wildcard) and a plain path are taken: a URL from here is safe in a Markdown note and a dotenv line.
The scheme is `https` where the object says TLS (an Ingress's `tls` lists the host, a Route has
`tls`) and for an HTTPRoute (its Gateway's listener decides; platforms terminate TLS there).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from renderer.data import Json, json_object
from renderer.render.tree import Documents

_HOST = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+")
_PATH = re.compile(r"/[A-Za-z0-9._~/-]{0,200}")


@dataclass(frozen=True, slots=True)
class Url:
    """One URL; ordered so the root of a host sorts before its sub-paths (`primary` takes the first)."""

    depth: int  # path segments: "/" is 0
    scheme: str
    host: str
    path: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"


def urls(documents: Documents, directory: str) -> list[str]:
    """Every URL the objects under `directory` route, once each, shallowest path first, then by URL."""
    found = {u for path, doc in documents.items() if path.startswith(directory) for u in _of(doc)}
    return [str(u) for u in sorted(found, key=lambda u: (u.depth, str(u)))]


def _of(doc: Json) -> Iterator[Url]:
    obj = json_object(doc)
    spec = json_object(obj.get("spec"))
    kind, group = obj.get("kind"), str(obj.get("apiVersion", "")).split("/")[0]
    if kind == "Ingress" and group == "networking.k8s.io":
        yield from _ingress(spec)
    elif kind == "HTTPRoute" and group == "gateway.networking.k8s.io":
        yield from _http_route(spec)
    elif kind == "Route" and group == "route.openshift.io":
        yield from _url("https" if spec.get("tls") else "http", spec.get("host"), spec.get("path"))


def _ingress(spec: Mapping[str, Json]) -> Iterator[Url]:
    hosts = (h for t in _list(spec.get("tls")) for h in _list(json_object(t).get("hosts")))
    secured = {h for h in hosts if isinstance(h, str)}
    for rule in _list(spec.get("rules")):
        host = json_object(rule).get("host")
        scheme = "https" if isinstance(host, str) and host in secured else "http"
        paths = [
            json_object(p).get("path") for p in _list(json_object(json_object(rule).get("http")).get("paths"))
        ]
        for path in paths or ["/"]:
            yield from _url(scheme, host, path)


def _http_route(spec: Mapping[str, Json]) -> Iterator[Url]:
    matches = [json_object(m) for r in _list(spec.get("rules")) for m in _list(json_object(r).get("matches"))]
    paths = [json_object(m.get("path")).get("value") for m in matches] or ["/"]
    for host in _list(spec.get("hostnames")):
        for path in paths:
            yield from _url("https", host, path)


def _url(scheme: str, host: Json, path: Json) -> Iterator[Url]:
    if isinstance(host, str) and _HOST.fullmatch(host) and len(host) <= 253:
        clean = path if isinstance(path, str) and _PATH.fullmatch(path) else "/"
        yield Url(len([s for s in clean.split("/") if s]), scheme, host, clean)


def _list(value: Json) -> list[Json]:
    return list(value) if isinstance(value, list | tuple) else []
