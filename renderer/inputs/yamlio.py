"""The one place YAML (and JSON) is read (YAML 1.2, line numbers, no duplicate keys) and written."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import DocumentStartEvent

from renderer.data import Doc, Json, PathKey, format_path
from renderer.errors import InputError, Problem
from renderer.model import Limits, limit_hint


class YamlLoadError(InputError):
    """A file that is not YAML we accept (syntax, duplicate keys, encoding)."""


# Bounds on one document, so a hostile file cannot exhaust the machine: YAML aliases let a few
# lines stand for billions of nodes ("billion laughs"), and deep nesting exhausts the stack. The
# platform sets them (trust.yaml `limits:`); platform files and generated text use the defaults.
DEFAULT_LIMITS = Limits()


class _Budget:
    """What is left of one document's node budget, and how deep it may go."""

    def __init__(self, limits: Limits) -> None:
        self.left = limits.yaml_nodes
        self.nodes = limits.yaml_nodes
        self.depth = limits.yaml_depth

    def spend(self, path: PathKey) -> None:
        self.left -= 1
        if self.left < 0:
            raise _Refused(
                path,
                f"the document expands to more than {self.nodes} values; each use of an alias counts",
                "yaml_nodes",
            )
        if len(path) > self.depth:
            raise _Refused(path, f"the document is nested more than {self.depth} levels deep", "yaml_depth")


class _Unsupported(Exception):
    pass


class _Refused(Exception):
    def __init__(self, path: PathKey, why: str, limit: str = "") -> None:
        super().__init__(why)
        self.path = path
        self.limit = limit  # the Limits field it is over, if any

    def problem(self, file: str, line: int) -> Problem:
        if not self.limit:
            return Problem(file, line, format_path(self.path), str(self))
        message = f"{self} (limits.{self.limit})"
        return Problem(file, line, format_path(self.path), message, limit_hint(self.limit))


def _plain(node: object, path: PathKey, lines: dict[PathKey, int], budget: _Budget) -> Json:
    budget.spend(path)
    if isinstance(node, CommentedMap):
        if node.merge:
            raise _Refused(path, "merge keys (<<:) are not read: write the keys out")
        out: dict[str, Json] = {}
        for key, value in node.items():
            if not isinstance(key, str):
                key = _scalar_text(key)
            child = (*path, key)
            lines[child] = node.lc.key(key if key in node else _find_key(node, key))[0] + 1
            out[key] = _plain(value, child, lines, budget)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Json] = []
        for i, value in enumerate(node):
            lines[(*path, i)] = node.lc.item(i)[0] + 1
            items.append(_plain(value, (*path, i), lines, budget))
        return items
    try:
        return _scalar(node)
    except _Unsupported as exc:
        raise _Refused(path, str(exc)) from None


def _find_key(node: CommentedMap, text: str) -> object:
    for key in node:
        if _scalar_text(key) == text:
            return key
    return text


def _scalar_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(_scalar(value))


def _scalar(value: object) -> Json:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    # Anything else is a tag plain data has no room for: a custom tag (`!x`), `!!binary` bytes, a
    # `!!set`. Refused here, so every value that leaves the reader is JSON.
    raise _Unsupported(f"a {type(value).__name__} is not plain data: only YAML's standard tags are read")


def _reader() -> YAML:
    reader = YAML(typ="rt")
    reader.version = (1, 2)
    reader.allow_duplicate_keys = False
    return reader


def load_text(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> list[Doc]:
    """Every document in `text`; a syntax error or duplicate key raises YamlLoadError."""
    try:
        raw_docs = list(_reader().load_all(text))
    except ValueError as exc:  # a constructor's own limit, e.g. an integer of more than 4300 digits
        raise YamlLoadError(Problem(file, 0, "", f"not valid YAML: {exc}", "fix the value")) from None
    except RecursionError:
        raise YamlLoadError(
            Problem(
                file,
                0,
                "",
                f"is nested too deeply (more than {limits.yaml_depth} levels; limits.yaml_depth)",
                limit_hint("yaml_depth"),
            )
        ) from None
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise YamlLoadError(
            Problem(file, line, "", f"duplicate key: {_problem_text(exc)}", "keep one of the keys")
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise YamlLoadError(
            Problem(file, line, "", f"not valid YAML: {_problem_text(exc)}", "fix the syntax")
        ) from None
    docs = []
    scalar_starts: list[int] = []
    for i, raw in enumerate(raw_docs):
        if raw is None:
            continue
        if isinstance(raw, CommentedMap | CommentedSeq):
            start = raw.lc.line + 1
        else:  # a scalar carries no position: read it from the events, once
            scalar_starts = scalar_starts or _root_lines(text)
            start = scalar_starts[i]
        lines: dict[PathKey, int] = {(): start}
        try:
            data = _plain(raw, (), lines, _Budget(limits))
        except _Refused as exc:
            raise YamlLoadError(exc.problem(file, max(lines.values()))) from None
        docs.append(Doc(file, data, lines))
    return docs


def _root_lines(text: str) -> list[int]:
    """The line each document's root node starts at, one per document (empty ones included)."""
    starts, after_start = [], False
    for event in _reader().parse(text):
        if after_start:
            starts.append(event.start_mark.line + 1)
        after_start = isinstance(event, DocumentStartEvent)
    return starts


def _problem_text(exc: MarkedYAMLError) -> str:
    text = str(exc.problem or exc.context or exc).strip()
    return text.splitlines()[0] if text else "unreadable"


def load_bytes(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> list[Doc]:
    """Every document in a file's bytes; anything but UTF-8 YAML we accept raises YamlLoadError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlLoadError(Problem(name, 0, "", "not UTF-8 text", "save as UTF-8")) from None
    return load_text(text, name, limits)


def load_json(data: str | bytes, name: str) -> Json:
    """A JSON file's value; a syntax error raises InputError at the line the parser gives."""
    try:
        value: Json = json.loads(data)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        raise InputError(Problem(name, exc.lineno, "", message, "fix the syntax")) from None
    except UnicodeDecodeError:
        raise InputError(Problem(name, 0, "", "not UTF-8 text", "save as UTF-8")) from None
    return value


def json_line(data: str | bytes, name: str, path: PathKey) -> int:
    """The line of `path` in JSON text that parsed (JSON is YAML 1.2), for a problem; 0 if unknown."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        docs = load_text(text, name)
    except InputError:
        return 0
    return docs[0].line(path) if docs else 0


# ---- generated YAML: template output ---------------------------------------------------------

# Text the renderer generated itself (a resource template's output) is read by libyaml, which is
# 10-20x faster than the located reader, with YAML 1.2's core schema put back: `no` and `on` are
# strings, `0777` is decimal, dates stay strings; only the standard tags; no duplicate or merge
# keys; the same bounds on nodes and depth as every other document.
_LibyamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Core12Loader(_LibyamlLoader):  # type: ignore[valid-type,misc]
    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    yaml_constructors: dict[str, object] = {}

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[str, object]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            raw = self.construct_object(key_node, deep=True)
            if key_node.tag == "tag:yaml.org,2002:merge" or raw == "<<":
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<:) are not read: write the keys out", key_node.start_mark
                )
            try:
                key = _scalar_text(raw)
            except _Unsupported as exc:
                raise yaml.constructor.ConstructorError(None, None, str(exc), key_node.start_mark) from None
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            out[key] = self.construct_object(value_node, deep=deep)
        return out


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_map(loader: _Core12Loader, node: yaml.MappingNode) -> Iterator[dict[str, object]]:
    data: dict[str, object] = {}
    yield data
    data.update(loader.construct_mapping(node))


def _construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> Iterator[list[object]]:
    data: list[object] = []
    yield data
    data.extend(loader.construct_sequence(node))


def _unknown_tag(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    raise yaml.constructor.ConstructorError(
        None, None, f"the tag {node.tag} is not read: only YAML's standard tags are", node.start_mark
    )


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _Core12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))
_Core12Loader.add_constructor("tag:yaml.org,2002:null", yaml.SafeLoader.construct_yaml_null)
_Core12Loader.add_constructor("tag:yaml.org,2002:bool", yaml.SafeLoader.construct_yaml_bool)
_Core12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Core12Loader.add_constructor("tag:yaml.org,2002:float", yaml.SafeLoader.construct_yaml_float)
_Core12Loader.add_constructor("tag:yaml.org,2002:str", yaml.SafeLoader.construct_yaml_str)
_Core12Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Core12Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Core12Loader.add_constructor(None, _unknown_tag)


def load_generated(text: str, name: str) -> list[Json]:
    """Every non-empty document of YAML the renderer generated; anything we do not accept raises
    YamlLoadError, at the line of the generated text it is on."""
    try:
        raw = [d for d in yaml.load_all(text, Loader=_Core12Loader) if d is not None]
    except RecursionError:
        raise YamlLoadError(
            Problem(name, 0, "", f"is nested too deeply (more than {DEFAULT_LIMITS.yaml_depth} levels)")
        ) from None
    except ValueError as exc:
        raise YamlLoadError(Problem(name, 0, "", f"not valid YAML: {exc}")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        raise YamlLoadError(
            Problem(name, mark.line + 1 if mark else 0, "", f"not valid YAML: {problem}")
        ) from None
    docs = []
    for doc in raw:
        try:
            docs.append(_bounded(doc, (), _Budget(DEFAULT_LIMITS)))
        except _Refused as exc:
            raise YamlLoadError(exc.problem(name, 0)) from None
    return docs


def _bounded(value: object, path: PathKey, budget: _Budget) -> Json:
    """A copy of constructed data within the node and depth bounds (an alias is counted each use)."""
    budget.spend(path)
    if isinstance(value, dict):
        return {str(k): _bounded(v, (*path, str(k)), budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_bounded(v, (*path, i), budget) for i, v in enumerate(value)]
    try:
        return _scalar(value)
    except _Unsupported as exc:
        raise _Refused(path, str(exc)) from None


# ---- output -------------------------------------------------------------------------------

# Strings a YAML 1.1 or 1.2 reader could take for something else are always quoted.
_AMBIGUOUS = re.compile(
    r"""^(?:
      [-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
    | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
    | 0[xX][0-9a-fA-F_]+ | 0[oO]?[0-7_]+ | 0[bB][01_]+ | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    | y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    | null|Null|NULL|~|=|<<
    | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*
    )$""",
    re.VERBOSE,
)


# The base is chosen at run time (libyaml's CSafeDumper where it is built in); mypy accepts only a
# static base class, hence the ignore.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def ignore_aliases(self, data: object) -> bool:
        return True  # every object stands alone: no &anchors in output


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if value == "" or _AMBIGUOUS.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def dump(data: Json) -> str:
    """Deterministic YAML: sorted keys, block style, quoted where a reader could misread."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
        explicit_start=False,
    )
    return text


def dump_json(data: Json) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
