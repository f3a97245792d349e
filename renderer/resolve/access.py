"""Who may use what: app names, metadata keys, profile classes, and which resources an app may request.

The rules come from `platform-config/trust.yaml` (`model.Trust`) and each definition's `access:`.
A refusal is a problem at the file, YAML path and line of the request, with the reason, so
`validate` and `explain` show it as the publish would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from renderer.data import Json
from renderer.errors import Collector, Problem
from renderer.model import App, Environment, ResourceDefinition, Trust, Workload

PROFILE_ANNOTATION = "renderer.platform/profile"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

# Keys that steer the renderer or the controllers that apply and guard the output. A workload can
# never set them, whatever trust.yaml allows: they would switch off reconciliation, sandboxing or
# provenance (`kustomize.toolkit.fluxcd.io/reconcile: disabled`, AppArmor `unconfined`, a spoofed
# `renderer.platform/source`), or inject configuration into shared controllers (ingress snippets).
FORBIDDEN_PREFIXES = (
    "renderer.platform/",
    "app.kubernetes.io/",
    "kubernetes.io/",
    "k8s.io/",
    "fluxcd.io/",
    "kustomize.toolkit.fluxcd.io/",
    "argocd.argoproj.io/",
    "helm.sh/",
    "meta.helm.sh/",
    "external-secrets.io/",
    "cert-manager.io/",
)
FORBIDDEN_SUFFIXES = (".kubernetes.io", ".k8s.io", ".fluxcd.io", ".argoproj.io", ".external-secrets.io")


def check_app_names(apps: Sequence[App], trust: Trust) -> list[Problem]:
    """App names become namespaces and paths: DNS labels of bounded length, none reserved."""
    problems = []
    for app in apps:
        why = name_problem(app.id, trust)
        if why:
            problems.append(Problem(app.display or app.id, 0, "", f"app name '{app.id}' {why}", _NAME_HINT))
    return problems


_NAME_HINT = "the name comes from the app's project path; the platform team can map it in trust.yaml"


def name_problem(name: str, trust: Trust) -> str:
    if not DNS_LABEL.fullmatch(name):
        return "is not a DNS label (lowercase letters, digits and '-')"
    if len(name) > trust.max_name_length:
        return f"is longer than {trust.max_name_length} characters"
    if trust.reserved(name):
        return "is reserved for the platform"
    return ""


def metadata_key_problem(key: str, allowed: Sequence[str]) -> str:
    """Why a workload may not set this annotation or label key ('' when it may)."""
    if key == PROFILE_ANNOTATION:
        return ""
    prefix = key.rsplit("/", 1)[0] if "/" in key else ""
    if key.startswith(FORBIDDEN_PREFIXES) or prefix.endswith(FORBIDDEN_SUFFIXES):
        return "belongs to the renderer or to the controllers that apply the output"
    if prefix and not key.startswith(tuple(allowed)):
        shown = ", ".join(allowed) or "none"
        return f"has a prefix the platform does not allow (allowed: {shown}, or no prefix)"
    return ""


def check_metadata(wl: Workload, trust: Trust) -> Iterator[Problem]:
    """Annotations of the workload and of its resources (and resource labels) pass the allow-list."""
    meta = wl.spec["metadata"]
    for key in sorted(meta.get("annotations") or {}):
        why = metadata_key_problem(key, trust.annotation_prefixes)
        if why:
            yield wl.doc.problem(("metadata", "annotations", key), f"annotation '{key}' {why}")
    for rname, res in sorted((wl.spec.get("resources") or {}).items()):
        rmeta = res.get("metadata") or {}
        for field, allowed in (("annotations", trust.annotation_prefixes), ("labels", trust.label_prefixes)):
            keys = rmeta.get(field)
            for key in sorted(keys) if isinstance(keys, Mapping) else []:
                why = metadata_key_problem(key, allowed)
                if why:
                    path = ("resources", rname, "metadata", field, key)
                    yield wl.doc.problem(path, f"{field[:-1]} '{key}' {why}")


def profile_class(wl: Workload, env: Environment, trust: Trust, problems: Collector) -> str | None:
    """The profile class a workload asks for, if the environment type offers it to apps."""
    klass = (wl.spec["metadata"].get("annotations") or {}).get(PROFILE_ANNOTATION, "default")
    offered = trust.profile_classes.get(env.type, ("default",))
    if klass not in offered:
        problems.extend(
            [
                wl.doc.problem(
                    ("metadata", "annotations", PROFILE_ANNOTATION),
                    f"profile class '{klass}' is not offered to apps in {env.type} environments "
                    f"(offered: {', '.join(offered)})",
                    "choose an offered class, or ask the platform team",
                )
            ]
        )
        return None
    return klass


def request_problem(
    definition: ResourceDefinition, app: str, params: Mapping[str, Json], rid: str | None
) -> str:
    """Why `app` may not request a resource of this definition with these params ('' when it may)."""
    access = definition.access
    if access.apps == "none":
        return f"'{definition.id}' is for the platform's own definitions (through uses:), not for apps"
    if access.apps != "all" and app not in access.apps:
        return f"'{definition.id}' may be requested only by: {', '.join(access.apps)}"
    if access.params is not None:
        extra = sorted(set(params) - set(access.params))
        if extra:
            allowed = ", ".join(access.params) or "none"
            return (
                f"params {', '.join(extra)} may not be set by apps on '{definition.id}' (allowed: {allowed})"
            )
    if rid is not None and access.shared == "none":
        return f"'{definition.id}' cannot be shared: remove 'id'"
    return ""
