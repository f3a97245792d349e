"""`renderer policy test`: the policies' own unit tests, run and reported as `opa test` does."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Sequence

import click

from renderer.checks.rego import policyset
from renderer.checks.rego.engine import PolicyLoadError, Regorus
from renderer.cli.base import handled, root_option
from renderer.errors import InputError
from renderer.inputs import roots
from renderer.inputs.policies import read_test_paths

EXIT_FAILED = 2  # opa test: a test failed, errored or was skipped
EXIT_NOT_LOADED = 1  # opa test: a file did not load, parse or compile; or --fail-on-empty ran none
RULE = "-" * 80


@click.group("policy")
def command() -> None:
    """Conftest-compatible Rego policies."""


@command.command("test", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@root_option
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["text", "pretty", "json"]),
    default="text",
    help="text (alias pretty) or json: OPA's list of test results.",
)
@click.option("--verbose", "-v", is_flag=True, help="Every test with its result and time.")
@click.option(
    "--run",
    "-r",
    "pattern",
    default="",
    metavar="REGEX",
    help="Only tests whose data.pkg.name matches REGEX.",
)
@click.option("--exit-zero-on-skipped", "-z", "skip_zero", is_flag=True, help="Skipped tests exit 0.")
@click.option("--fail-on-empty", is_flag=True, help="Exit 1 when no test ran.")
@click.option("--v0-compatible", "v0", is_flag=True, help="Read every file as Rego v0.")
@handled
def test(
    paths: Sequence[str],
    root: str | None,
    fmt: str,
    verbose: bool,
    pattern: str,
    skip_zero: bool,
    fail_on_empty: bool,
    v0: bool,
) -> None:
    """Run the test_* rules under PATHS (files or folders; default: the root's policies/), as `opa test`.

    Exit 0 when every test passed, 2 when one failed, errored or was skipped (-z: skipped do not
    count), 1 when a file does not load or parse, or with --fail-on-empty when none ran."""
    chosen = list(paths) or [os.path.join(roots.find_root(root, os.environ), "policies")]
    try:
        run = re.compile(pattern) if pattern else None
        results = policyset.run_tests(
            read_test_paths(chosen), run, lambda: Regorus(v0_only=v0), time.perf_counter_ns
        )
    except re.error as exc:
        _fail(f"--run {pattern!r}: not a regular expression: {exc}")
    except InputError as exc:
        _fail("\n".join(p.render() for p in exc.problems()))
    except PolicyLoadError as exc:
        _fail(str(exc))
    report = as_json(results) if fmt == "json" else "\n".join(pretty(results, verbose))
    if report:  # OPA prints nothing at all when no test ran
        click.echo(report)
    if not results and fail_on_empty:
        _fail("no tests were run")
    if any(not r.passed and not (r.skip and skip_zero) for r in results):
        raise SystemExit(EXIT_FAILED)


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(EXIT_NOT_LOADED)


def pretty(results: Sequence[policyset.TestResult], verbose: bool) -> list[str]:
    """OPA's human report: the tests that did not pass (-v: every test) under `file:row:`, then the
    counts."""
    lines: list[str] = []
    last = ""
    for r in results:
        if r.passed and not verbose:
            continue
        if last and last != r.file:
            lines.append("")
        last = r.file
        lines += [f"{r.file}:{r.row}:", _line(r)]
        if r.output:
            lines += ["", *(f"  {line}" for line in r.output), ""]
        if r.error:
            lines.append(f"  {r.error.render()}")
    failures = [r for r in results if r.fail]
    if failures and verbose:
        lines += [RULE, "FAILURES", RULE]
        for r in failures:
            lines += [_line(r), ""]
    if lines:
        lines.append(RULE)
    counts = {"PASS": 0, "FAIL": 0, "SKIPPED": 0, "ERROR": 0}
    for r in results:
        counts[r.outcome] += 1
    return lines + [f"{k}: {n}/{len(results)}" for k, n in counts.items() if n]


def _line(r: policyset.TestResult) -> str:
    if r.skip:
        return f"{r.package}.{r.name}: SKIPPED"
    return f"{r.package}.{r.name}: {r.outcome} ({duration(r.duration)})"


def duration(ns: int) -> str:
    """Nanoseconds as Go prints a time.Duration (what OPA shows): 850ns, 1.417µs, 2.5ms, 1.2s."""
    if ns < 1000:
        return f"{ns}ns"
    for unit, size in (("µs", 1000), ("ms", 1000_000), ("s", 1000_000_000)):
        if ns < size * 1000 or unit == "s":
            whole, part = divmod(ns, size)
            digits = f"{part:0{len(str(size)) - 1}d}".rstrip("0")
            return f"{whole}.{digits}{unit}" if digits else f"{whole}{unit}"
    raise AssertionError("unreachable")


def as_json(results: Sequence[policyset.TestResult]) -> str:
    """OPA's `--format json`: a list of results; error, fail, skip and output only when set,
    duration in nanoseconds, print output base64-encoded as Go encodes bytes."""
    out = []
    for r in results:
        item: dict[str, object] = {
            "location": {"file": r.file, "row": r.row, "col": r.col},
            "package": r.package,
            "name": r.name,
        }
        if r.error:
            where = {"file": r.error.file, "row": r.error.row, "col": r.error.col}
            item["error"] = {"code": r.error.code, "message": r.error.message, "location": where}
        if r.fail:
            item["fail"] = True
        if r.skip:
            item["skip"] = True
        item["duration"] = r.duration
        if r.output:
            text = "".join(f"{line}\n" for line in r.output)
            item["output"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
        out.append(item)
    return json.dumps(out, indent=2, ensure_ascii=False)
