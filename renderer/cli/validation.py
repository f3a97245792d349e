"""`validate`: load every input, render it in memory and run the checks, so all problems surface."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from renderer import pipeline
from renderer.checks import findings as checks
from renderer.checks import kubeschema
from renderer.inputs import roots as settings

PLACEHOLDER_IMAGE = "registry.example.com/validate/placeholder:0"


def validate(root: str, paths: Sequence[str], jobs: int = 1) -> dict[str, Any]:
    """Paths may be app directories or single Score files (their directory is the app)."""
    dirs = sorted({p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in paths})
    inputs = settings.load(root, dirs)
    rendered = pipeline.render(
        inputs.platform, inputs.apps, None, pipeline.Options({"": PLACEHOLDER_IMAGE}, jobs)
    )
    report = checks.enforce(rendered, inputs.platform, jobs)
    return {
        "apps": len(inputs.apps),
        "workloads": sum(len(a.workloads) for a in inputs.apps),
        "environments": len(inputs.platform.environments),
        "definitions": len(inputs.platform.definitions),
        "profiles": len(inputs.platform.profiles),
        "policy_sets": len(inputs.platform.policies),
        "warnings": [f.render() for f in report.warnings],
        "schema": kubeschema.summary(report.schema),
    }
