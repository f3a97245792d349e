"""Benchmark: the Gatekeeper set of a platform root on the examples' rendered objects; prints figures.

python bench/gatekeeper.py [--set gatekeeper] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from renderer import pipeline  # noqa: E402
from renderer.checks.rego.gatekeeper import Admission  # noqa: E402
from renderer.inputs import app_repo, platform_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="gatekeeper")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    platform = platform_config.load_platform(ROOT)
    apps = app_repo.load_apps(app_repo.example_app_dirs(ROOT), ROOT)
    rendered = pipeline.run(platform, apps, None, pipeline.Options(skip_checks_for_tests=True))
    objects = [
        (path, doc)
        for env in rendered.envs
        for path, doc in sorted(env.documents.items())
        if path.startswith("kubernetes/") and path.endswith(".yaml")
    ]
    source = platform.policies[args.set]
    for _ in range(args.repeat):
        started = time.perf_counter()
        admission = Admission(source, objects)
        compiled = time.perf_counter()
        results, counts = admission.check(objects)
        done = time.perf_counter()
        reviews = counts.successes + counts.failures + counts.warnings
        print(
            f"{len(objects)} objects, {len(source.templates)} templates, "
            f"{len(source.constraints)} constraints, "
            f"{len(source.expansions)} expansions: compile {1000 * (compiled - started):.1f} ms, "
            f"{reviews} constraint × object pairs {1000 * (done - compiled):.1f} ms "
            f"({1000 * (done - compiled) / len(objects):.2f} ms an object), {len(results)} findings"
        )


if __name__ == "__main__":
    main()
