"""Reading platform and app YAML files into located documents, collecting every problem."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator

from renderer.data import Doc
from renderer.errors import Collector, InputError
from renderer.inputs import schema
from renderer.inputs.confine import Root
from renderer.inputs.yamlio import DEFAULT_LIMITS, load_bytes
from renderer.model import Limits


def display(path: str, root: str) -> str:
    """Paths in messages are relative to the project root when they are inside it."""
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel


def read_docs(source: Root, rel: str, problems: Collector) -> list[Doc]:
    """The mapping documents of one file read inside `source`; everything else becomes a problem."""
    try:
        data = source.read(rel)
    except InputError as exc:
        problems.extend(exc.problems())
        return []
    return parse_docs(data, source.name(rel), problems)


def parse_docs(data: bytes, name: str, problems: Collector, limits: Limits = DEFAULT_LIMITS) -> list[Doc]:
    try:
        docs = load_bytes(data, name, limits)
    except InputError as exc:
        problems.extend(exc.problems())
        return []
    for doc in docs:
        if not isinstance(doc.data, dict):
            problems.extend([doc.problem([], "the document must be a mapping")])
    return [d for d in docs if isinstance(d.data, dict)]


def only_doc(docs: list[Doc], problems: Collector) -> Doc | None:
    """Files that hold one document: a second one is a problem."""
    if len(docs) > 1:
        problems.add(docs[1].file, docs[1].line([]), "", "one document per file is expected")
    return docs[0] if docs else None


def glob_files(root: str, *parts: str) -> list[str]:
    return sorted(glob.glob(os.path.join(root, *parts), recursive=True))


def valid_docs(root: str, problems: Collector, schema_name: str, *parts: str) -> Iterator[tuple[str, Doc]]:
    """Every document of the matching files that passes its schema; the rest become problems.

    Resource definitions may share a file; environments and profiles are one per file."""
    platform = Root(root, "")
    for file in glob_files(root, *parts):
        docs = read_docs(platform, os.path.relpath(file, root), problems)
        if schema_name != "resource-definition" and len(docs) > 1:
            problems.add(docs[1].file, docs[1].line([]), "", "one document per file is expected")
            docs = docs[:1]
        for doc in docs:
            found = schema.check(schema_name, doc.data, doc)
            problems.extend(found)
            if not found:
                yield file, doc
