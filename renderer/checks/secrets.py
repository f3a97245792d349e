"""The secret scan: what app inputs put into the output must not be a secret.

It runs before anything is written, on what came from the app (every string of each workload as
merged for the environment, file sources, decoded binary content), not on the renderer's own
output: key-name rules would fire on every `secretName` and `secret_path` the renderer writes, and
scanning the whole tree costs many times the commit. Token and key formats are detect-secrets'
plugins (the chosen set below); two rules of our own complete them: a literal value in a field
whose name says it holds a secret (`DB_PWD: hunter2`), and the values of the renderer's own
sensitive environment variables (its tokens) anywhere in the rendered tree.

A finding names the file, the YAML path and the kind of secret, never the value.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Protocol

from renderer.data import Json, PathKey, format_path, walk
from renderer.errors import Problem
from renderer.inputs.placeholders import PLACEHOLDER
from renderer.inputs.yamlio import load_text
from renderer.model import Allowance, App, Workload

# The last word of a field name that says its value is a secret.
SECRET_NAME = re.compile(
    r"(?:^|[_.\-])(?:pass(?:word)?|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|"
    r"access[_-]?key|credentials?|auth)$",
    re.IGNORECASE,
)
# Names of the renderer's environment variables whose values must never reach the output.
# (Names only: AWS_REGION's value is in every Terraform project and is no secret.)
SENSITIVE_ENV = re.compile(r"TOKEN|PASSWORD|SECRET|PRIVATE|CREDENTIAL|_KEY$", re.IGNORECASE)
MIN_SENSITIVE_LENGTH = 8  # shorter values ("true", "1") would match everywhere
SCAN_AT_ONCE = 1 << 20  # bytes of rendered files one pass of the formats reads (`scan_rendered`)
CROSSES_LINES = "_authToken="  # what npm's format needs before it may run over a line end


class Detector(Protocol):
    secret_type: str

    def analyze_string(self, string: str) -> Iterable[str]: ...


# detect-secrets' format plugins in use: (module under detect_secrets.plugins, class). Left out on
# purpose: the keyword and generic high-entropy plugins (they fire on the renderer's own reference
# fields and on digests), and public IP addresses (not secrets).
PLUGINS = (
    ("aws", "AWSKeyDetector"),
    ("artifactory", "ArtifactoryDetector"),
    ("azure_storage_key", "AzureStorageKeyDetector"),
    ("basic_auth", "BasicAuthDetector"),
    ("discord", "DiscordBotTokenDetector"),
    ("github_token", "GitHubTokenDetector"),
    ("gitlab_token", "GitLabTokenDetector"),
    ("jwt", "JwtTokenDetector"),
    ("mailchimp", "MailchimpDetector"),
    ("npm", "NpmDetector"),
    ("openai", "OpenAIDetector"),
    ("private_key", "PrivateKeyDetector"),
    ("pypi_token", "PypiTokenDetector"),
    ("sendgrid", "SendGridDetector"),
    ("slack", "SlackDetector"),
    ("square_oauth", "SquareOAuthDetector"),
    ("stripe", "StripeDetector"),
    ("telegram_token", "TelegramBotTokenDetector"),
    ("twilio", "TwilioKeyDetector"),
)


@cache
def detectors() -> tuple[Detector, ...]:
    """The plugins, imported on first use: only the check stage pays for them."""
    found: list[Detector] = []
    for module, name in PLUGINS:
        cls: type[Detector] = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        found.append(cls())
    return tuple(found)


def formats_in(text: str) -> list[str]:
    """The kinds of secret detect-secrets' chosen plugins see in `text`, as it is: rendered output,
    where what looks like a placeholder is literal text (an input's `$${…}`)."""
    return sorted({d.secret_type for d in detectors() if any(True for _ in d.analyze_string(text))})


def kinds_in(text: str) -> list[str]:
    """The kinds of secret in an input's `text`, its placeholders left out (what they put together
    is checked once rendered); an escaped `$${…}` or `$$` is literal text, kept (`_unplaced`)."""
    return formats_in(_unplaced(text))


def _unplaced(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: m.group(0)[1:] if m.group(0).startswith("$$") else " ", text)


def scan_workload(wl: Workload, allow: Sequence[Allowance] = ()) -> list[Problem]:
    """Every secret-like value a workload's inputs carry, each at its file, YAML path and line."""
    problems = []
    for path, kind in _spec_findings(wl):
        if not _allowed(allow, wl.app, wl.rel, format_path(path)):
            problems.append(wl.doc.problem(path, _message(kind), _HINT))
    return problems


def scan_files(app: App, allow: Sequence[Allowance] = ()) -> list[Problem]:
    """Every file an app brings, as text, comments and other environments' overrides included:
    all of it is stored in the environment repo (`.render/apps/<app>/`)."""
    problems = []
    for rel, data in sorted(app.files.items()):
        if _allowed(allow, app.id, rel, ""):
            continue
        text = data.decode("utf-8", errors="replace")
        if not _detected(_plain(text.splitlines())):  # one pass over the file: the common case
            continue
        for number, line in enumerate(text.splitlines(), start=1):  # a hit: say on which line
            for kind in kinds_in(line):
                problems.append(Problem(f"{app.display or app.id}/{rel}", number, "", _message(kind), _HINT))
    return problems


def scan_rendered(files: Iterable[tuple[str, bytes, Json]]) -> list[Problem]:
    """Rendered objects (path, bytes, parsed), whose strings an app's placeholders may have put
    together from parts (`AKIA${metadata.annotations.rest}`): the token and key formats, first on
    many files' text at once (the common case: nothing), then on halves of what had a hit down to
    single files, then value by value to say where."""
    problems: list[Problem] = []
    clean: set[str] = set()  # lines of earlier groups that held nothing
    for group in _groups(files):
        texts = [data.decode("utf-8", errors="replace") for _, data, _ in group]
        fresh = _fresh_lines(texts, clean)
        if fresh is not None and not _detected("\n".join(fresh)):
            clean.update(fresh)
            continue
        problems += [p for i in _hits(texts, 0, len(texts)) for p in _rendered_file(*group[i], texts[i])]
    return problems


def _fresh_lines(texts: Sequence[str], clean: set[str]) -> list[str] | None:
    """The group's distinct lines not already known clean, in order; None when a text must be read
    whole. Rendered objects repeat most of their lines (every environment, every app's keys), and
    each chosen format matches within one line, so a line scanned once need not be scanned again:
    at 250 apps × 4 environments, 15 MB of rendered objects hold 1.5 MB of distinct lines. The one
    format that may run over a line end is npm's (`_authToken=` then any whitespace):
    a text holding that is read whole. (`tests/security/test_secret_scan.py` keeps the list of
    formats whose patterns could match a line end.)"""
    if any(CROSSES_LINES in text for text in texts):
        return None
    return [
        line
        for line in dict.fromkeys(line for text in texts for line in text.split("\n"))
        if line not in clean
    ]


def _groups(files: Iterable[tuple[str, bytes, Json]]) -> Iterator[list[tuple[str, bytes, Json]]]:
    """The files in runs of about SCAN_AT_ONCE bytes."""
    group: list[tuple[str, bytes, Json]] = []
    size = 0
    for file in files:
        group.append(file)
        size += len(file[1])
        if size >= SCAN_AT_ONCE:
            yield group
            group, size = [], 0
    if group:
        yield group


def _hits(texts: Sequence[str], start: int, end: int) -> list[int]:
    """Which of texts[start:end] detect-secrets sees a secret in: one pass over all of them, then
    halves. Joined by newlines, which every chosen format stops at or treats as a boundary, so no
    text's hit is lost; a hit across two texts ends at single texts, which have none."""
    if start == end or not _detected("\n".join(texts[start:end])):
        return []
    if end - start == 1:
        return [start]
    middle = (start + end) // 2
    return _hits(texts, start, middle) + _hits(texts, middle, end)


def _rendered_file(path: str, data: bytes, obj: Json, text: str) -> list[Problem]:  # obj None: the file only
    if obj is None:
        return [Problem(path, 0, "", _message(kind), _HINT) for kind in formats_in(text)]
    leaves = [(p, v) for p, v in walk(obj) if isinstance(v, str) and v]
    hits = [(p, kind) for p, v in leaves for kind in formats_in(v)]
    lines = load_text(text, path)[0] if hits else None  # read again only to say on which line
    return [
        Problem(path, lines.line(p) if lines else 0, format_path(p), _message(kind), _HINT)
        for p, kind in hits
    ]


def _detected(text: str) -> bool:
    return any(any(True for _ in d.analyze_string(text)) for d in detectors())


def _plain(texts: Iterable[str]) -> str:
    """Input texts without their placeholders (each on its own: an unclosed `${` must not hide the
    next text's secret), one per line, for one pass of `_detected`."""
    return "\n".join(_unplaced(text) for text in texts)


def scan_tree(tree: Mapping[str, bytes], sensitive: Sequence[str]) -> list[Problem]:
    """Files of the rendered tree that hold a value of the renderer's own sensitive environment."""
    needles = [v.encode() for v in sensitive if len(v) >= MIN_SENSITIVE_LENGTH]
    return [
        Problem(
            path,
            0,
            "",
            "holds the value of one of the renderer's own secret environment variables",
            "an input copies the CI environment into the output; find and remove it",
        )
        for path in sorted(tree)
        if any(n in tree[path] for n in needles)
    ]


def sensitive_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of the environment variables that hold credentials, for `scan_tree` (read at the edge)."""
    return tuple(
        sorted(v for k, v in environ.items() if SENSITIVE_ENV.search(k) and len(v) >= MIN_SENSITIVE_LENGTH)
    )


_HINT = (
    "keep secrets in the secret store and reference them (${resources.NAME.OUTPUT}); "
    "if this is not a secret, the platform team can allow it in platform-config/trust.yaml"
)


def _message(kind: str) -> str:
    return f"looks like a secret ({kind}); secrets never go into the environment repo"


def _spec_findings(wl: Workload) -> Iterator[tuple[PathKey, str]]:
    leaves = [(p, v) for p, v in walk(wl.spec) if isinstance(v, str) and v]
    binary = {
        p: _decoded(v).decode("utf-8", errors="replace") for p, v in leaves if p[-1:] == ("binaryContent",)
    }
    # the formats, first on every string at once: the common case is none
    formats = _detected(_plain([*(v for _, v in leaves), *binary.values()]))
    for path, value in leaves:
        for kind in kinds_in(value) if formats else ():
            yield path, kind
        name = path[-1] if path else ""
        if isinstance(name, str) and SECRET_NAME.search(name) and _literal(value):
            yield path, "a literal value in a field named for a secret"
        if path in binary and formats:
            for kind in kinds_in(binary[path]):
                yield path, kind


def _literal(value: str) -> bool:
    """A value written out, not a reference: no placeholder, not a path, not a bare boolean or number."""
    if PLACEHOLDER.search(value) or value.startswith("/"):
        return False
    return not re.fullmatch(r"true|false|yes|no|on|off|[0-9.]+", value.strip(), re.IGNORECASE)


def _decoded(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _allowed(allow: Sequence[Allowance], app: str, file: str, path: str) -> bool:
    return any(a.app == app and a.file == file and a.path == path for a in allow)
