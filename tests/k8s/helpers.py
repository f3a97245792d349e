"""Rendering a project copy in memory, and reading its objects back as data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from renderer import pipeline
from renderer.data import Json, json_object
from renderer.inputs import roots as settings


def render(project: Path, envs: Sequence[str] | None = None) -> dict[str, Json]:
    """Every rendered document (policies and schemas checked) by its path in the environment repo."""
    inputs = settings.load(str(project), [])
    rendered = pipeline.run(inputs.platform, inputs.apps, envs, pipeline.Options())
    return {p: d for e in rendered.envs for p, d in e.documents.items()}


def kube_objects(documents: Mapping[str, Json]) -> dict[str, Mapping[str, Json]]:
    return {p: json_object(d) for p, d in documents.items() if p.startswith("kubernetes/")}


def edit(project: Path, rel: str, old: str, new: str) -> None:
    path = project / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1))


def dig(obj: Json, *keys: str) -> Json:
    for key in keys:
        obj = json_object(obj).get(key)
    return obj
