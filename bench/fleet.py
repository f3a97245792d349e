"""The benchmark's fleet: a platform root with four environments and generated apps, and the changes
the benchmark makes to them (one workload, one resource definition)."""

from __future__ import annotations

import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOAD = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
  annotations:
    example.com/team: {app}
service:
  ports:
    http: {{port: 80, targetPort: 8080}}
containers:
  main:
    image: registry.example.com/{app}/{name}:1.{tag}.0
    args: ["--listen=:8080"]
    variables:
      APP_NAME: ${{metadata.name}}
      DATABASE_HOST: ${{resources.db.host}}
      DATABASE_USER: ${{resources.db.username}}
      DATABASE_PASSWORD: ${{resources.db.password}}
      CACHE_HOST: ${{resources.cache.host}}
{extra_vars}    files:
      /etc/{name}/config.yaml:
        mode: "0440"
        content: |
          service: ${{metadata.name}}
          database: ${{resources.db.host}}:${{resources.db.port}}
    resources:
      requests: {{cpu: 100m, memory: 128Mi}}
      limits: {{cpu: 500m, memory: 256Mi}}
    livenessProbe:
      httpGet: {{path: /healthz, port: 8080}}
    readinessProbe:
      httpGet: {{path: /ready, port: 8080}}
resources:
  db:
    type: postgres
    id: {app}-db
  cache:
    type: redis
{extra_resources}"""


def workload(app: str, index: int, per_app: int, app_index: int) -> str:
    """One Score file: a database shared by the app's workloads, a cache, and by position a public
    route (the first), a peer service (the others), search (10% of apps), a bucket (2% of apps)."""
    variables, resources = [], []
    if index == 0:
        variables.append("      PUBLIC_HOST: ${resources.dns.host}\n")
        resources.append("  dns:\n    type: dns\n  route:\n    type: route\n")
        resources.append('    params: {host: "${resources.dns.host}", port: 80}\n')
    else:
        variables.append("      PEER_URL: ${resources.peer.url}\n")
        resources.append(f"  peer:\n    type: service\n    params: {{name: w{index - 1}}}\n")
    if index == 0 and app_index % 10 == 0:
        variables.append("      SEARCH_HOST: ${resources.search.host}\n")
        resources.append("  search:\n    type: elasticsearch\n")
    if index == 0 and app_index % 50 == 0:
        variables.append("      BUCKET: ${resources.assets.bucket}\n")
        resources.append("  assets:\n    type: s3\n")
    return WORKLOAD.format(
        name=f"w{index}",
        app=app,
        tag=index,
        extra_vars="".join(variables),
        extra_resources="".join(resources),
    )


def generate(base: str, apps: int, per_app: int) -> list[str]:
    """`apps` app folders of `per_app` Score files each; their paths."""
    folders = []
    for a in range(apps):
        app = f"svc-{a:04d}"
        folder = os.path.join(base, app)
        os.makedirs(folder)
        for w in range(per_app):
            with open(os.path.join(folder, f"score-w{w}.yaml"), "w", encoding="utf-8") as fh:
                fh.write(workload(app, w, per_app, a))
        folders.append(folder)
    return folders


def platform_root(dest: str) -> str:
    """The shipped platform inputs (no preview environment) plus a fourth environment (`qa`),
    committed (impact reads git)."""
    for name in ("environments", "platform-config", "policies"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(dest, name))
    with open(os.path.join(ROOT, "environments", "staging.yaml"), encoding="utf-8") as fh:
        staging = fh.read()
    qa = staging.replace("staging", "qa").replace("type: qa", "type: staging")  # a second staging
    with open(os.path.join(dest, "environments", "qa.yaml"), "w", encoding="utf-8") as fh:
        fh.write(qa)
    preview = os.path.join(dest, "environments", "preview.yaml")
    if os.path.exists(preview):  # previews are per merge request, not part of a fleet publish
        os.remove(preview)
    _commit(dest, "platform")
    return dest


def change_workload(app_folder: str) -> None:
    """A new image tag in the app's first workload."""
    path = os.path.join(app_folder, "score-w0.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace(":1.0.0", ":1.0.1", 1))


def change_platform(root: str) -> None:
    """A new Elasticsearch image: every app with search (10%) changes, in every environment."""
    path = os.path.join(root, "platform-config", "resources", "elasticsearch-in-cluster.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert "elasticsearch:8.15.3" in text, "the shipped definition changed: pick another edit"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace("elasticsearch:8.15.3", "elasticsearch:8.15.4"))
    _commit(root, "elasticsearch 8.15.4")


def _commit(root: str, message: str) -> None:
    git = ["git", "-C", root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    if not os.path.isdir(os.path.join(root, ".git")):
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", message], check=True)
