"""Image digests resolved at the edge, for environments that pin images (`aws.pin_images`).

`publish --check-aws` renders the apps it publishes, asks ECR for the digest of each image tag
their output in those environments uses, and hands the digests to the publish, which renders
`repo@sha256:…` and records them in the app's index (`.render/apps/<app>/index.json`, `pins`). Every
later render (a platform-wide publish, `diff`, `impact`) reads them from there, offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from renderer import pipeline
from renderer.adapters import gitrepo
from renderer.adapters.aws import Cloud, ecr_image
from renderer.errors import PolicyDenied, Problem
from renderer.model import App, Environment, Platform
from renderer.publish import bookkeeping
from renderer.review import awscheck

Pins = dict[str, dict[str, dict[str, str]]]  # app → env → image (by tag) → digest


def resolve(
    platform: Platform,
    apps: Sequence[App],
    envs: Sequence[Environment],
    options: pipeline.Options,
    cloud_for: Callable[[Environment], Cloud],
) -> Pins:
    """The digest of every ECR image the apps run in the environments that pin images; an image
    that is not in ECR stops the publish (exit 4) before anything is written."""
    pins: Pins = {}
    missing: list[Problem] = []
    for env in (e for e in envs if e.pin_images):
        rendered = pipeline.run(platform, apps, [env.id], options)
        (env_render,) = rendered.envs
        cloud = cloud_for(env)
        for app, needs in sorted(awscheck.needs(env_render, [a.id for a in apps]).items()):
            for image in needs.images:
                ref = ecr_image(image)
                if ref is None:
                    continue  # another registry: left by tag, as `check` reports it ("unchecked")
                digest = cloud.image_digest(ref)
                if digest is None:
                    missing.append(Problem(env.file, 0, f"{env.id}/{app}", f"image {image} is not in ECR"))
                else:
                    pins.setdefault(app, {}).setdefault(env.id, {})[image] = digest
    if missing:
        raise PolicyDenied(
            f"{len(missing)} image(s) cannot be pinned: push them, or fix the tag; nothing was published",
            missing,
        )
    return pins


def on_branch(
    repo: gitrepo.Repo,
    branch: str,
    app_ids: Sequence[str],
    env_ids: Sequence[str],
    resolved: Mapping[str, Mapping[str, Mapping[str, str]]],
) -> Pins:
    """An environment delivered by merge request: the digests the open branch recorded for the apps
    published now (its index, not main's: the merge request is not merged yet), with those this run
    resolved over them. A push without `--check-aws` then keeps what the merge request already pins."""
    out: Pins = {app: {env: dict(images) for env, images in envs.items()} for app, envs in resolved.items()}
    if gitrepo.remote_head(repo, branch) is None:
        return out
    ref = f"refs/remotes/origin/{branch}"
    gitrepo.fetch_branch(repo, branch, gitrepo.TIP)
    paths = {bookkeeping.index_relpath(app): app for app in app_ids}
    texts = gitrepo.read_files(repo, ref, sorted(paths))  # one read, however many apps
    for path, app in paths.items():
        try:
            index = json.loads(texts[path]) if path in texts else {}
        except (ValueError, RecursionError):
            continue  # unreadable: the render records a fresh index
        for env, pins in bookkeeping.recorded_pins(index if isinstance(index, dict) else {}).items():
            if env in env_ids:
                out.setdefault(app, {})[env] = {**pins, **out.get(app, {}).get(env, {})}
    return out
