"""The check stage, shared by render, publish and diff: schemas and policies before any write."""

from __future__ import annotations

from renderer.errors import PolicyDenied
from renderer.model import Platform
from renderer.pipeline import Rendered
from renderer.policy import kubeschema


def enforce(rendered: Rendered, platform: Platform) -> kubeschema.SchemaReport:
    versions = {e.id: e.kubernetes_version for e in platform.environments.values()}
    report = kubeschema.check_tree(rendered.tree, versions)
    if report.problems:
        raise PolicyDenied(
            "rendered objects fail the Kubernetes schema:\n" + "\n".join(p.render() for p in report.problems)
        )
    return report
