"""One stage of the pipeline timed inside its own process: `python -m bench.stages STAGE ROOT APP...`.

Prints `seconds peak_mib`: the stage alone (start-up and loading excluded), and the process's
peak resident memory (its workers included). Stages: render (no checks), checks (render with
schemas, policies and the secret scan), secrets (the secret scan alone, after an unchecked render).
"""

from __future__ import annotations

import os
import resource
import sys
import time

from renderer import pipeline
from renderer.checks import secrets
from renderer.inputs import app_repo, platform_config, roots
from renderer.model import App, Platform


def scan(platform: Platform, apps: tuple[App, ...], rendered: pipeline.Rendered) -> int:
    """Every part of the secret scan, as the checks run it."""
    allow = platform.trust.secret_allow
    hits = sum(len(secrets.scan_files(app, allow)) for app in apps)
    for env in rendered.envs:
        for wl in env.analysis.workloads:
            hits += len(secrets.scan_workload(wl, allow))
    objects = [
        (path, data, None)
        for path, data in rendered.tree.items()
        if path.startswith("kubernetes/") and "/_shared/" not in path and path.endswith(".yaml")
    ]
    hits += len(secrets.scan_rendered(objects))
    return hits + len(secrets.scan_tree(rendered.tree, ("bench-canary-0123456789abcdef",)))


def main(stage: str, root: str, folders: list[str]) -> None:
    platform = platform_config.load_platform(root)
    apps = app_repo.load_apps(folders, root, limits=platform.trust.limits)
    jobs = roots.jobs(os.environ)
    unchecked = pipeline.Options(jobs=jobs, skip_checks_for_tests=True)
    if stage == "secrets":
        rendered = pipeline.run(platform, apps, None, unchecked)
        start = time.perf_counter()
        scan(platform, apps, rendered)
    else:
        options = unchecked if stage == "render" else pipeline.Options(jobs=jobs)
        start = time.perf_counter()
        pipeline.run(platform, apps, None, options)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{seconds:.3f} {max(own, workers) / 1024:.1f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
