"""`validate`: load every input and render it in memory, so all problems surface at once."""

from __future__ import annotations

import os
from collections.abc import Sequence

from renderer import pipeline, settings
from renderer.errors import InputError, Problem


def validate(root: str, paths: Sequence[str]) -> dict[str, int]:
    """Paths may be app directories or single Score files (their directory is the app)."""
    dirs = sorted({p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in paths})
    inputs = settings.load(root, dirs)
    problems: list[Problem] = []
    try:
        pipeline.render(
            inputs.platform,
            inputs.apps,
            None,
            pipeline.Options({"": "registry.example.com/validate/placeholder:0"}),
        )
    except InputError as exc:
        problems.extend(exc.problems())
    if problems:
        raise InputError(problems)
    return {
        "apps": len(inputs.apps),
        "workloads": sum(len(a.workloads) for a in inputs.apps),
        "environments": len(inputs.platform.environments),
        "definitions": len(inputs.platform.definitions),
        "profiles": len(inputs.platform.profiles),
    }
