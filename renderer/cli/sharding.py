"""`publish --shard I/N` and `publish --merge-shards DIR`: the option checks, then publish/shards.py
(imported only when sharding: a publish that changes nothing should not pay for the checks it
loads)."""

from __future__ import annotations

import dataclasses
import os

from renderer.errors import UsageError
from renderer.model import Platform
from renderer.publish import delivery


def run_shard(platform: Platform, req: delivery.Request, spec: str, directory: str) -> str:
    """Check shard I of N and write its manifest; the manifest's path."""
    from renderer.publish import shards

    index, total = shards.parse_spec(spec)
    _platform_wide(req, "--shard")
    manifest = shards.render_shard(platform, req, os.environ, index, total)
    return shards.write_manifest(directory, manifest)


def merging(req: delivery.Request, directory: str | None) -> delivery.Request:
    """The request with the merge of the shards' manifests as its render; unchanged without `directory`."""
    if directory is None:
        return req
    from renderer.publish import shards

    _platform_wide(req, "--merge-shards")
    run = shards.merged(shards.read_manifests(directory), req.platform_digest)
    return dataclasses.replace(req, run=run)


def _platform_wide(req: delivery.Request, option: str) -> None:
    if not req.all_apps or req.apps or req.remove_apps or req.pins:
        raise UsageError(
            f"{option} splits a platform-wide render: give --all-apps (no --app, --remove-app, --check-aws)"
        )
