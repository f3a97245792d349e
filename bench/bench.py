"""Benchmark: generated apps through load, render, checks, write and publish; prints figures.

python bench/bench.py --apps 200 --workloads 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from renderer import pipeline  # noqa: E402
from renderer.checks import secrets  # noqa: E402
from renderer.inputs import app_repo, platform_config  # noqa: E402
from renderer.inputs import roots as settings  # noqa: E402
from renderer.publish import delivery as publish  # noqa: E402
from renderer.publish import writer  # noqa: E402

WORKLOAD = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
service:
  ports:
    http: {{port: 80, targetPort: 8080}}
containers:
  main:
    image: registry.example.com/{app}/{name}:1.{i}.0
    variables:
      DB_URL: postgres://${{resources.db.username}}:${{resources.db.password}}@${{resources.db.host}}/x
      CACHE: ${{resources.cache.host}}
      PEER: ${{resources.peer.url}}
    resources:
      limits: {{cpu: 500m, memory: 256Mi}}
resources:
  db: {{type: postgres}}
  cache: {{type: redis}}
  peer: {{type: service, params: {{name: {peer}}}}}
  dns: {{type: dns}}
  route: {{type: route, params: {{host: "${{resources.dns.host}}", port: 80}}}}
"""


def generate(base: str, apps: int, workloads: int) -> list[str]:
    dirs = []
    for a in range(apps):
        app = f"app{a:04d}"
        folder = os.path.join(base, app)
        os.makedirs(folder)
        for w in range(workloads):
            peer = f"w{(w + 1) % workloads}"
            text = WORKLOAD.format(name=f"w{w}", app=app, i=w, peer=peer)
            with open(os.path.join(folder, f"score-w{w}.yaml"), "w") as fh:
                fh.write(text)
        dirs.append(folder)
    return dirs


def timed(label: str, action: Callable[[], Any], figures: list[tuple[str, float]]) -> Any:
    start = time.perf_counter()
    result = action()
    figures.append((label, time.perf_counter() - start))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--workloads", type=int, default=5)
    parser.add_argument("--env", action="append", default=None, help="environment (repeatable)")
    parser.add_argument("--skip-publish", action="store_true")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = parser.parse_args()
    figures: list[tuple[str, float]] = []
    work = tempfile.mkdtemp(prefix="renderer-bench-")
    try:
        dirs = generate(os.path.join(work, "apps"), args.apps, args.workloads)
        platform = timed("load platform", lambda: platform_config.load_platform(ROOT), figures)
        apps = timed("load apps", lambda: app_repo.load_apps(dirs, ROOT), figures)
        unchecked = pipeline.Options(jobs=args.jobs, skip_checks_for_tests=True)
        timed("render, no checks", lambda: pipeline.run(platform, apps, args.env, unchecked), figures)
        rendered = timed(
            "render + checks (schema + policies)",
            lambda: pipeline.run(platform, apps, args.env, pipeline.Options(jobs=args.jobs)),
            figures,
        )
        report = rendered.report

        def scan() -> int:
            """Every part of the secret scan, as the checks run it."""
            allow = platform.trust.secret_allow
            hits = sum(len(secrets.scan_files(app, allow)) for app in apps)
            for env in rendered.envs:
                for wl in env.analysis.workloads:
                    hits += len(secrets.scan_workload(wl, allow))
            for path, data in rendered.tree.items():
                if path.startswith("kubernetes/") and "/_shared/" not in path and path.endswith(".yaml"):
                    hits += len(secrets.scan_rendered(path, data, None))
            return hits + len(secrets.scan_tree(rendered.tree, ("bench-canary-0123456789abcdef",)))

        hits = timed("secret scan (within the checks)", scan, figures)
        out = os.path.join(work, "out")
        timed("write, empty dir", lambda: writer.write_tree(out, rendered.tree, rendered.owned), figures)
        timed(
            "write, nothing changed", lambda: writer.write_tree(out, rendered.tree, rendered.owned), figures
        )
        floor = os.path.join(work, "floor")
        shutil.copytree(out, floor)
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run([*git, "init", "-q", floor], check=True)
        timed(
            "floor: git add -A && git commit",
            lambda: subprocess.run(
                f"{' '.join(git)} add -A && {' '.join(git)} commit -qm x", shell=True, cwd=floor, check=True
            ),
            figures,
        )
        if not args.skip_publish:
            bare = os.path.join(work, "env.git")
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare], check=True)
            req = publish.Request(
                url=bare,
                apps=apps,
                env_ids=tuple(args.env or ()),
                direct_only=True,
                jobs=args.jobs,
                platform_digest=settings.platform_digest(ROOT),
            )
            timed("publish, first", lambda: publish.publish(platform, req, os.environ), figures)
            timed("publish, no-op", lambda: publish.publish(platform, req, os.environ), figures)
        files = len(rendered.tree)
        objects = sum(
            1 for p in rendered.tree if p.startswith("kubernetes/") and not p.endswith("kustomization.yaml")
        )
        print(
            f"apps={args.apps} workloads/app={args.workloads} envs={len(rendered.envs)} "
            f"files={files} k8s objects={objects} checked={report.schema.checked} "
            f"policy results={report.counts.successes + report.counts.failures + report.counts.warnings} "
            f"secret findings={hits}"
        )
        for label, seconds in figures:
            print(f"  {label:32} {seconds:8.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
