"""The one place YAML (and JSON) is read and written.

Every YAML input goes through one reader: app files, platform files, policy data and the text
resource templates generate. It is a small builder over libyaml's event stream (fast, iterative,
never constructs a Python object from a tag) that gives plain data, YAML 1.2's core schema
(`no` and `on` are strings, `0777` is decimal, dates stay as written), the line of every value, and
refuses what plain data has no room for: duplicate keys, merge keys (`<<:`), tags other than the
standard ones, keys that are not scalars, NUL characters. It bounds each document by the platform's
limits: the values it expands to (each use of an alias counts) and its nesting.
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import yaml

from renderer.data import Doc, Json, PathKey, format_path
from renderer.errors import InputError, Problem
from renderer.model import Limits, limit_hint


class YamlLoadError(InputError):
    """A file that is not YAML we accept (syntax, duplicate keys, encoding, limits)."""

    kind = "yaml"


DEFAULT_LIMITS = Limits()  # the platform's come from trust.yaml; platform files use these
_Parser: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, if built in
_TAG = "tag:yaml.org,2002:"


class _Refused(Exception):
    """A value the reader does not accept, at a path and line; `limit` names the limit it is over."""

    def __init__(self, path: PathKey, line: int, why: str, limit: str = "", hint: str = "") -> None:
        super().__init__(why)
        self.path, self.line, self.limit, self.hint = path, line, limit, hint

    def problem(self, file: str) -> Problem:
        if not self.limit:
            return Problem(file, self.line, format_path(self.path), str(self), self.hint)
        message = f"{self} (limits.{self.limit})"
        return Problem(file, self.line, format_path(self.path), message, limit_hint(self.limit))


# YAML 1.2 core schema: how a plain (unquoted, untagged) scalar is read.
_NULL = re.compile(r"^(?:~|null|Null|NULL)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


# the first characters a plain scalar other than a string can start with (`_NULL` to `_NAN`)
_NOT_ONLY_TEXT = frozenset("~nNtTfF-+.0123456789")


def _plain_scalar(text: str) -> Json:
    if text and text[0] not in _NOT_ONLY_TEXT:  # most values: text, whatever follows
        return text
    if text == "" or _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return _int(text)
    if _FLOAT.match(text):
        if len(text) > _MAX_DIGITS:
            raise ValueError(f"a number of {len(text)} digits is too long to read")
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if _NAN.match(text) else text


def _finite(value: Json, text: str, path: PathKey, line: int) -> None:
    """YAML reads `.inf`, `.nan` and `1e400` as numbers JSON cannot write: nothing the renderer
    writes or checks (objects, Terraform, the policies' input) could hold one as a value. A key
    is its text, so there it stays."""
    if isinstance(value, float) and not math.isfinite(value):
        why = f"{text!r} is a number JSON cannot hold (infinite or not a number)"
        raise _Refused(path, line, why, hint="quote it for a string")


_KEYS: dict[str, str] = {}  # short keys already read, each kept as one string (`_key`)


def _key(text: str) -> str:
    """A key is its text: one string however many objects spell it (the 20,000 objects of an
    environment repeat a few hundred keys). Not `sys.intern`, whose strings Python 3.12 never
    frees; and only short keys, the first few thousand, so hostile input cannot make it grow."""
    if len(text) > 64:
        return text
    known = _KEYS.get(text)
    if known is not None:
        return known
    if len(_KEYS) < 4096:
        _KEYS[text] = text
    return text


_MAX_DIGITS = 100  # no field of anything we render holds a longer number (Kubernetes' are 64-bit)


def _int(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits is too long to read")
    if text.startswith(("0o", "0x")):
        value = int(text[2:], 8 if text.startswith("0o") else 16)
        decimal = len(str(value))  # as it is written out again: the reader must take that back
        if decimal > _MAX_DIGITS:
            raise ValueError(f"a number of {decimal} digits is too long to read")
        return value
    return int(text, 10)  # ValueError past 4300 digits: reported where the value is


def _tagged_scalar(tag: str, text: str) -> Json:
    """A scalar with an explicit standard tag (`!!str 1`); ValueError if the text does not fit."""
    kind = tag.removeprefix(_TAG)
    if kind == "str":
        return text
    if kind == "null" and (text == "" or _NULL.match(text)):
        return None
    if kind == "bool" and text in _BOOL:
        return _BOOL[text]
    if kind == "int" and _INT.match(text):
        return _int(text)
    if (
        kind == "float"
        and isinstance(value := _plain_scalar(text), int | float)
        and not isinstance(value, bool)
    ):
        return float(value)
    raise ValueError(f"{text!r} does not read as {_short(tag)}")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built: its path, and the key whose value comes next."""

    value: dict[str, Json] | list[Json]
    path: PathKey
    line: int
    anchor: str | None
    spent_before: int
    bytes_before: int
    key: str | None = None
    key_line: int = 0


@dataclass(slots=True)
class _Builder:
    """Plain data and line numbers from one document's events, within the limits."""

    limits: Limits
    spent: int = 0  # values so far in the file (every document counts: the budget is the file's)
    spent_bytes: int = 0  # bytes of string text so far in the file
    lines: dict[PathKey, int] = field(default_factory=dict)
    # anchor → its value, the values and bytes it stands for, and a scalar's text (for a key)
    anchors: dict[str, tuple[Json, int, int, str | None]] = field(default_factory=dict)
    stack: list[_Frame] = field(default_factory=list)
    root: Json = None
    done: bool = False
    empty_root: bool = False  # the document is nothing but an empty scalar (blank, or comments)

    def child_path(self) -> tuple[PathKey, bool]:
        """Where the next node goes, and whether it is a mapping key."""
        if not self.stack:
            return (), False
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value)), False
        if top.key is None:
            return top.path, True
        return (*top.path, top.key), False

    def spend(self, n: int, path: PathKey, line: int, text_bytes: int = 0) -> None:
        self.spent += n
        self.spent_bytes += text_bytes
        if self.spent > self.limits.yaml_nodes:
            nodes = self.limits.yaml_nodes
            why = f"the file expands to more than {nodes} values; each use of an alias counts"
            raise _Refused(path, line, why, "yaml_nodes")
        if self.spent_bytes > self.limits.yaml_bytes:
            size = self.limits.yaml_bytes
            why = f"the file's strings expand to more than {size} bytes; each use of an alias counts"
            raise _Refused(path, line, why, "yaml_bytes")
        if len(path) > self.limits.yaml_depth:
            why = f"the document is nested more than {self.limits.yaml_depth} levels deep"
            raise _Refused(path, line, why, "yaml_depth")

    def event(self, ev: yaml.Event) -> None:
        line = ev.start_mark.line + 1 if ev.start_mark else 0
        path, is_key = self.child_path()
        if isinstance(ev, yaml.ScalarEvent):
            if is_key and ev.value == "<<" and ev.implicit[0] and ev.tag is None:  # plain `<<` only
                raise _Refused(path, line, "merge keys (<<:) are not read: write the keys out")
            self.spend(1, path, line, len(ev.value))
            value = self.scalar(ev, path, line)
            if not is_key:
                _finite(value, ev.value, path, line)
            if ev.anchor:
                self.anchors[ev.anchor] = (value, 1, len(ev.value), ev.value)
            self.complete(_key(ev.value) if is_key else value, path, line, is_key)
        elif isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if is_key:
                raise _Refused(path, line, "a key must be a plain value, not a mapping or list")
            want = "map" if isinstance(ev, yaml.MappingStartEvent) else "seq"
            if ev.tag not in (None, "!", _TAG + want):
                raise _Refused(
                    path, line, f"the tag {_short(ev.tag)} is not read: only YAML's standard tags are"
                )
            self.spend(1, path, line)
            container: dict[str, Json] | list[Json] = {} if want == "map" else []
            self.stack.append(_Frame(container, path, line, ev.anchor, self.spent - 1, self.spent_bytes))
        elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            if frame.anchor:
                size = self.spent_bytes - frame.bytes_before
                self.anchors[frame.anchor] = (frame.value, self.spent - frame.spent_before, size, None)
            path, is_key = self.child_path()
            self.complete(frame.value, path, frame.line, is_key)
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in self.anchors:
                raise _Refused(path, line, f"found undefined alias {ev.anchor!r}")
            value, size, text_bytes, text = self.anchors[ev.anchor]
            self.spend(size, path, line, text_bytes)
            if is_key and text is None:
                raise _Refused(path, line, "a key must be a plain value, not a mapping or list")
            if not is_key and text is not None:  # a key's scalar, anchored, may come back as a value
                _finite(value, text, path, line)
            self.complete(text if is_key else _copy(value), path, line, is_key)

    def scalar(self, ev: yaml.ScalarEvent, path: PathKey, line: int) -> Json:
        text = ev.value
        if "\0" in text:
            raise _Refused(path, line, "holds a NUL character")
        limit = self.limits.string_bytes
        if len(text) > limit // 4 and (size := len(text.encode("utf-8"))) > limit:
            raise _Refused(path, line, f"a string of {size} bytes is longer than {limit}", "string_bytes")
        if ev.tag is None:  # plain scalars are resolved; quoted ones are strings
            try:
                return _plain_scalar(text) if ev.implicit[0] else text
            except ValueError as exc:  # a number too long to be one
                raise _Refused(path, line, str(exc)) from None
        if ev.tag == "!":  # the non-specific tag: a string
            return text
        if not ev.tag.startswith(_TAG) or ev.tag.removeprefix(_TAG) not in (
            "str",
            "int",
            "float",
            "bool",
            "null",
        ):
            raise _Refused(path, line, f"the tag {_short(ev.tag)} is not read: only YAML's standard tags are")
        try:
            return _tagged_scalar(ev.tag, text)
        except ValueError as exc:
            raise _Refused(path, line, str(exc)) from None

    def complete(self, value: Json, path: PathKey, line: int, is_key: bool) -> None:
        if not self.stack:
            self.root, self.done = value, True
            self.lines[()] = line
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            self.lines[path] = line
            top.value.append(value)
            return
        if is_key:
            key = str(value)  # the key's text as written: `80` and "80" are one key
            if key in top.value:
                first = self.lines.get((*top.path, key), 0)
                why = f"duplicate key {key!r} (first on line {first})"
                raise _Refused((*top.path, key), line, why, hint="keep one of the keys")
            top.key, top.key_line = key, line
            return
        assert top.key is not None  # a value follows its key
        self.lines[(*top.path, top.key)] = top.key_line
        top.value[top.key] = value
        top.key = None


def _copy(value: Json) -> Json:
    """An alias's own copy, so no two places of a document share (and later mutate) one value."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _documents(text: str, file: str, limits: Limits) -> Iterator[tuple[Json, dict[PathKey, int], bool]]:
    """(data, lines, empty) for each document; a syntax error or a refusal raises YamlLoadError."""
    parser = _Parser(text)
    builder: _Builder | None = None
    try:
        while parser.check_event():
            ev: yaml.Event = parser.get_event()  # type: ignore[no-untyped-call]  # (the stub is untyped)
            if isinstance(ev, yaml.DocumentStartEvent):
                spent = (builder.spent, builder.spent_bytes) if builder else (0, 0)
                builder = _Builder(limits, *spent)
            elif isinstance(ev, yaml.DocumentEndEvent) and builder is not None:
                yield builder.root, builder.lines, builder.empty_root
            elif builder is not None:
                if isinstance(ev, yaml.ScalarEvent) and not builder.stack:
                    builder.empty_root = ev.value == "" and ev.implicit[0] and ev.tag is None
                builder.event(ev)
    except _Refused as exc:
        raise YamlLoadError(exc.problem(file)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or "unreadable").strip()
        if "maximum nesting depth" in problem:  # libyaml stops at 1000 levels, before we count them
            why = f"the document is nested more than {limits.yaml_depth} levels deep"
            raise YamlLoadError(
                _Refused((), mark.line + 1 if mark else 0, why, "yaml_depth").problem(file)
            ) from None
        raise YamlLoadError(
            Problem(file, mark.line + 1 if mark else 0, "", f"not valid YAML: {problem}", "fix the syntax")
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        what = (
            f"unacceptable character #x{exc.character:04x}"
            if isinstance(exc.character, int)
            else "unreadable"
        )
        raise YamlLoadError(
            Problem(file, line, "", f"not valid YAML: {what}: {exc.reason}", "remove the character")
        ) from None
    except yaml.YAMLError as exc:
        raise YamlLoadError(Problem(file, 0, "", f"not valid YAML: {exc}", "fix the syntax")) from None
    finally:
        parser.dispose()


def load_text(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> list[Doc]:
    """Every document in `text` (an empty one is skipped), with the line of every value."""
    return [Doc(file, data, lines) for data, lines, empty in _documents(text, file, limits) if not empty]


def load_bytes(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> list[Doc]:
    """Every document in a file's bytes; anything but UTF-8 YAML we accept raises YamlLoadError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlLoadError(Problem(name, 0, "", "not UTF-8 text", "save as UTF-8")) from None
    return load_text(text, name, limits)


def load_generated(text: str, name: str) -> list[Json]:
    """Every non-empty, non-null document of YAML the renderer generated (a template's output)."""
    return [
        data for data, _, empty in _documents(text, name, DEFAULT_LIMITS) if not empty and data is not None
    ]


def load_json(data: str | bytes, name: str) -> Json:
    """A JSON file's value; a syntax error raises InputError at the line the parser gives."""
    try:
        value: Json = json.loads(data, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        raise YamlLoadError(Problem(name, exc.lineno, "", message, "fix the syntax")) from None
    except _NotJson as exc:
        raise YamlLoadError(Problem(name, 0, "", f"not valid JSON: {exc}", "write a number")) from None
    except UnicodeDecodeError:
        raise YamlLoadError(Problem(name, 0, "", "not UTF-8 text", "save as UTF-8")) from None
    except RecursionError:
        raise YamlLoadError(Problem(name, 0, "", "not valid JSON: nested too deeply", "flatten it")) from None
    return value


class _NotJson(ValueError):
    """A constant Python's reader takes that JSON has not (`NaN`, `Infinity`, `-Infinity`)."""


def _no_constant(name: str) -> Json:
    raise _NotJson(f"{name} is not a JSON number")


def json_line(data: str | bytes, name: str, path: PathKey) -> int:
    """The line of `path` in JSON text that parsed (JSON is YAML 1.2), for a problem; 0 if unknown."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        docs = load_text(text, name)
    except InputError:
        return 0
    return docs[0].line(path) if docs else 0


# ---- output -------------------------------------------------------------------------------

# Strings a YAML 1.1 or 1.2 reader could take for something else are always quoted, including what
# Go's YAML (kubectl, Flux, Argo CD) reads as a number: signs, underscores anywhere, 0x/0o/0b.
_AMBIGUOUS = re.compile(
    r"""^(?:
      [-+]?(?:\.[0-9_]+|[0-9_]+(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9_]+)?
    | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
    | [-+]?_*0[xX][0-9a-fA-F_]+ | [-+]?_*0[oO]?[0-7_]+ | [-+]?_*0[bB][01_]+
    | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
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

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        """The tag a reader would give a plain scalar (the emitter asks for every one, to decide
        whether it may stay plain): remembered, as the same keys and values recur in every object."""
        if kind is yaml.ScalarNode and isinstance(value, str) and len(value) <= 256:
            return _scalar_tag(value, implicit)
        return str(super().resolve(kind, value, implicit))


_RESOLVER = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=65536)
def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    return str(_RESOLVER.resolve(yaml.ScalarNode, value, implicit))  # type: ignore[no-untyped-call]


def _str_style(value: str) -> str | None:
    if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")):
        return "|"
    if value == "" or _AMBIGUOUS.match(value):
        return '"'
    return None


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=_str_style(value))


_Dumper.add_representer(str, _represent_str)

_TAG_STR, _TAG_INT, _TAG_BOOL, _TAG_NULL, _TAG_MAP, _TAG_SEQ = (
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null", "map", "seq")
)


def _node(dumper: yaml.SafeDumper, data: object) -> yaml.Node:
    """The node PyYAML's representer builds for `data` (sorted keys, block style, `_represent_str`),
    built directly for the JSON types: the representer's generic dispatch and alias bookkeeping
    cost more than the emitting. Anything else goes to the representer itself."""
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_TAG_STR, data, style=_str_style(data))  # type: ignore[arg-type]
    if kind is dict:
        try:
            items = sorted(data.items())  # type: ignore[attr-defined]
        except TypeError:  # keys of mixed types: kept in order, as PyYAML does
            items = list(data.items())  # type: ignore[attr-defined]
        pairs = [(_node(dumper, k), _node(dumper, v)) for k, v in items]
        return yaml.MappingNode(_TAG_MAP, pairs, flow_style=False)
    if kind is list:
        return yaml.SequenceNode(_TAG_SEQ, [_node(dumper, v) for v in data], flow_style=False)  # type: ignore[attr-defined]
    if kind is bool:
        return yaml.ScalarNode(_TAG_BOOL, "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_TAG_INT, str(data))
    if data is None:
        return yaml.ScalarNode(_TAG_NULL, "null")
    node: yaml.Node = dumper.represent_data(data)
    return node


def dump(data: Json) -> str:
    """Deterministic YAML: sorted keys, block style, quoted where a reader could misread. The
    same bytes as `yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
    allow_unicode=True, width=4096)` (tests/property/test_property_yaml.py holds the two equal):
    written directly where every scalar is of a kind whose form is certain, else by PyYAML."""
    out: list[str] = []
    try:
        if _block(data, 0, out, False):
            return "".join(out)
    except _Unsure:
        pass
    stream = io.StringIO()
    dumper = _Dumper(
        stream, default_flow_style=False, allow_unicode=True, width=4096, sort_keys=True, explicit_start=False
    )
    dumper.open()
    dumper.serialize(_node(dumper, data))
    dumper.close()
    return stream.getvalue()


# ---- the direct writer: PyYAML's block layout, for scalars whose form is certain ------------------
# Plain where libyaml's analysis certainly allows it (no indicator first, no `: ` or ` #`, no
# leading or trailing space, short enough never to be folded) and its resolver reads a string;
# double-quoted (`_str_style`) printable ASCII needing no escape; single-quoted printable ASCII
# that an indicator first keeps from being plain; literal blocks of printable ASCII lines. Anything
# else is `_Unsure`, and PyYAML writes the whole document.


class _Unsure(Exception):
    """A scalar whose exact form only PyYAML's emitter knows."""


_PLAIN = re.compile(
    r"(?:[A-Za-z0-9_/$(]|-(?!--)(?=[A-Za-z0-9_./$(-])|\.(?!\.\.))"  # no indicator, `---` or `...` first
    # then any of these, `:` only before a non-space
    r"[A-Za-z0-9_./=+@$%()~<>;^#,'\"!&*| -]*(?::+[A-Za-z0-9_./=+@$%()~<>;^#,'\"!&*|-]+)*"
)
_QUOTABLE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")  # printable ASCII but `"` and `\`
# A first character that rules plain out for libyaml's analysis whatever follows (`*.tf.json`);
# such a string of printable ASCII, no line break and no trailing space is single-quoted.
_LEADING_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")
_SINGLE_QUOTABLE = re.compile(r"[\x20-\x7e]*[\x21-\x7e]")
_LITERAL = re.compile(r"[\x21-\x7e][\x20-\x7e\n]*")


def _scalar(value: object, indent: int, key: bool) -> str:
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        form = _short_form(text) if len(text) <= 128 else _LONG
        if form is not _LONG and form is not _UNSURE:
            return form
        if not key and _str_style(text) == "|" and len(text) <= 2048 and _LITERAL.fullmatch(text):
            return _literal(text, indent + 2)
        raise _Unsure
    if key:
        raise _Unsure
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is dict and not value:
        return "{}"
    if kind is list and not value:
        return "[]"
    raise _Unsure


_LONG, _UNSURE = "|", ""  # never a plain or quoted form: plain starts otherwise, quoted with `"`


@functools.lru_cache(maxsize=65536)
def _short_form(text: str) -> str:
    """A string of at most 128 characters as it stands in the output: plain or double-quoted;
    `_LONG` when only a literal block could hold it, `_UNSURE` when PyYAML must say. Remembered:
    the same keys and values recur in every object."""
    style = _str_style(text)
    if style is None:
        if (
            _PLAIN.fullmatch(text)
            and "  " not in text
            and " #" not in text
            and not text.endswith(" ")
            and _scalar_tag(text, (True, False)) == _TAG_STR
        ):
            return text
        if text[0] in _LEADING_INDICATORS and _SINGLE_QUOTABLE.fullmatch(text):
            return "'" + text.replace("'", "''") + "'"  # never plain; PyYAML's next choice
    elif style == '"':
        if _QUOTABLE.fullmatch(text):
            return f'"{text}"'
    else:
        return _LONG
    return _UNSURE


def _literal(text: str, indent: int) -> str:
    if text.endswith("\n\n") or text == "\n":
        raise _Unsure  # kept trailing breaks (`|+`): rare, left to PyYAML
    chomp = "" if text.endswith("\n") else "-"
    pad = " " * indent
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    body = "".join(f"{pad}{line}\n" if line else "\n" for line in lines)
    return f"|{chomp}\n{body}"[:-1]  # the caller ends the line


def _block_map(data: dict[str, object], indent: int, out: list[str], inline: bool) -> None:
    try:
        items = sorted(data.items())
    except TypeError:
        raise _Unsure from None
    pad = " " * indent
    for i, (key, value) in enumerate(items):
        if i or not inline:
            out.append(pad)
        out.append(_scalar(key, indent, True))
        kind = type(value)
        if kind is dict and value:
            out.append(":\n")
            _block_map(cast("dict[str, object]", value), indent + 2, out, False)
        elif kind is list and value:
            out.append(":\n")
            _block_seq(cast("list[object]", value), indent, out, False)  # indentless, as PyYAML
        else:
            out.append(": ")
            out.append(_scalar(value, indent, False))
            out.append("\n")


def _block_seq(data: list[object], indent: int, out: list[str], inline: bool) -> None:
    pad = " " * indent
    for i, value in enumerate(data):
        if i or not inline:
            out.append(pad)
        out.append("- ")
        if not _block(value, indent + 2, out, True):  # a collection starts on the dash's line
            out.append(f"{_scalar(value, indent, False)}\n")


def _block(data: object, indent: int, out: list[str], inline: bool) -> bool:
    """A non-empty dict or list in block style; False, writing nothing, for anything else."""
    if type(data) is dict and data:
        _block_map(cast("dict[str, object]", data), indent, out, inline)
    elif type(data) is list and data:
        _block_seq(cast("list[object]", data), indent, out, inline)
    else:
        return False
    return True


def dump_json(data: Json) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
