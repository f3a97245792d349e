"""The command line: one thin command per verb; errors become exit codes by category."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

import click

from renderer import __version__
from renderer.errors import RendererError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=None,
    help="Platform-config checkout (default: here, else the shipped one).",
)
format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")


def handled(func: F) -> F:
    """Map our errors to exit codes and readable reports; anything else is a bug with traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fmt = kwargs.get("fmt", "text")
        try:
            return func(*args, **kwargs)
        except RendererError as exc:
            problems = exc.problems()
            if fmt == "json":
                click.echo(
                    json.dumps(
                        {
                            "ok": False,
                            "error": type(exc).__name__,
                            "message": str(exc) if not problems else "",
                            "problems": [p.as_dict() for p in problems],
                        },
                        indent=2,
                        sort_keys=True,
                    )
                )
            else:
                if problems:
                    for p in problems:
                        click.echo(p.render(), err=True)
                    click.echo(f"{len(problems)} problem(s) found", err=True)
                else:
                    click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def _images(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, image = pair.partition("=")
        if not sep:
            key, image = "", pair
        out[key] = image
    return out


def _exclusive(envs: Sequence[str], all_envs: bool) -> None:
    if all_envs and envs:
        raise UsageError("--env and --all-envs exclude each other")


@click.group()
@click.version_option(__version__, prog_name="renderer")
def main() -> None:
    """Render Score workloads with platform definitions into a GitOps environment repo."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@root_option
@format_option
@handled
def validate(paths: tuple[str, ...], root: str | None, fmt: str) -> None:
    """Check every shipped input, or the given Score files / app directories."""
    from renderer.cli import validation
    from renderer.inputs import roots as settings

    base = settings.find_root(root, os.environ)
    summary = validation.validate(base, list(paths), settings.jobs(os.environ))
    if fmt == "json":
        click.echo(json.dumps({"ok": True, **summary}, indent=2, sort_keys=True))
    else:
        for warning in summary["warnings"]:
            click.echo(warning, err=True)
        click.echo(summary["schema"], err=True)
        click.echo(
            f"ok: {summary['workloads']} workloads in {summary['apps']} apps, "
            f"{summary['environments']} environments, {summary['definitions']} resource "
            f"definitions, {summary['profiles']} profiles, rendered without error"
        )


@main.command()
@click.option("--app", "app", required=True, help="App directory or shipped example id.")
@click.option("--workload", required=True)
@click.option("--env", "env_id", required=True)
@root_option
@format_option
@handled
def explain(app: str, workload: str, env_id: str, root: str | None, fmt: str) -> None:
    """Which definition each resource matched, what was rejected and why, the outputs."""
    from renderer import pipeline
    from renderer.inputs import roots as settings
    from renderer.review import explain as explaining

    base = settings.find_root(root, os.environ)
    inputs = settings.load(base, [app])
    env = pipeline.select_envs(inputs.platform, [env_id])[0]
    result = pipeline.analyse(inputs.platform, inputs.apps, env)
    try:
        data = explaining.explain(result, inputs.apps[0].id, workload)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    click.echo(
        json.dumps(data, indent=2, sort_keys=True) if fmt == "json" else explaining.as_text(data),
        nl=fmt == "json",
    )


@main.command()
@click.option("--app", "apps", multiple=True, help="App directory (repeatable); default: examples.")
@click.option("--env", "envs", multiple=True, help="Environment id (repeatable); default: all.")
@click.option("--all-envs", is_flag=True, help="Every environment (the default).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--image", "images", multiple=True, help="WORKLOAD[.CONTAINER]=IMAGE for image '.'.")
@root_option
@format_option
@handled
def render(
    apps: tuple[str, ...],
    envs: tuple[str, ...],
    all_envs: bool,
    out: str,
    images: tuple[str, ...],
    root: str | None,
    fmt: str,
) -> None:
    """Render into DIR as the environment repo would hold it. Pure: no git."""
    from renderer import pipeline
    from renderer.checks import findings as checks
    from renderer.checks import kubeschema
    from renderer.inputs import roots as settings
    from renderer.publish import writer

    _exclusive(envs, all_envs)
    base = settings.find_root(root, os.environ)
    inputs = settings.load(base, list(apps))
    rendered = pipeline.render(
        inputs.platform,
        inputs.apps,
        list(envs) or None,
        pipeline.Options(_images(images), settings.jobs(os.environ)),
    )
    report = checks.enforce(rendered, inputs.platform, settings.jobs(os.environ))
    result = writer.write_tree(
        out,
        rendered.tree,
        rendered.owned,
        {"atlantis.yaml": lambda t: pipeline.finish(t, inputs.platform)},
    )
    warnings = [w.render() for w in report.warnings]
    schema = kubeschema.summary(report.schema)
    summary = {
        "out": os.path.abspath(out),
        "files": len(rendered.tree),
        "written": len(result.written),
        "deleted": len(result.deleted),
        "environments": ", ".join(e.env.id for e in rendered.envs),
        "warnings": warnings,
        "schema": schema,
    }
    if fmt == "text":
        for line in [*warnings, schema]:
            click.echo(line, err=True)
    click.echo(
        json.dumps(summary, indent=2, sort_keys=True)
        if fmt == "json"
        else f"rendered {summary['files']} files for {summary['environments']} into "
        f"{summary['out']} ({summary['written']} written, {summary['deleted']} deleted)"
    )


@main.command()
@click.option("--env", "env_id", required=True)
@click.option("--app", "apps", multiple=True)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid")
@root_option
@handled
def graph(env_id: str, apps: tuple[str, ...], fmt: str, root: str | None) -> None:
    """The resource graph of an environment as Mermaid, DOT or JSON."""
    from renderer import pipeline
    from renderer.inputs import roots as settings
    from renderer.review import graphview

    base = settings.find_root(root, os.environ)
    inputs = settings.load(base, list(apps))
    env = pipeline.select_envs(inputs.platform, [env_id])[0]
    result = pipeline.analyse(inputs.platform, inputs.apps, env)
    click.echo(graphview.render(result.graph, fmt), nl=False)


def _platform_commit(root: str) -> str:
    import subprocess

    proc = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


@main.command()
@click.option("--env-repo", "url", required=True, help="Environment repo: path or git URL.")
@click.option(
    "--app",
    "apps",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="App directory of Score files (repeatable); its id is the directory name.",
)
@click.option("--all-apps", is_flag=True, help="Re-render every app stored in the env repo.")
@click.option("--remove-app", "remove", multiple=True, help="Remove an app's output.")
@click.option("--env", "envs", multiple=True)
@click.option("--all-envs", is_flag=True)
@click.option("--image", "images", multiple=True)
@click.option("--allow-mass-delete", is_flag=True)
@click.option("--destroyed", multiple=True, help="ENV/APP whose emptied Terraform was applied.")
@root_option
@format_option
@handled
def publish(
    url: str,
    apps: tuple[str, ...],
    all_apps: bool,
    remove: tuple[str, ...],
    envs: tuple[str, ...],
    all_envs: bool,
    images: tuple[str, ...],
    allow_mass_delete: bool,
    destroyed: tuple[str, ...],
    root: str | None,
    fmt: str,
) -> None:
    """Render, commit what changed and push to the environment repo (CI runs this)."""
    from renderer.adapters import gitlab
    from renderer.checks import findings as checks
    from renderer.inputs import loader
    from renderer.inputs import roots as settings
    from renderer.publish import delivery as publishing

    _exclusive(envs, all_envs)
    base = settings.find_root(root, os.environ)
    platform = loader.load_platform(base)
    loaded = loader.load_apps([os.path.abspath(a) for a in apps], base) if apps else ()
    gl = gitlab.settings_from(os.environ)
    req = publishing.Request(
        url=_repo_url(url),
        apps=loaded,
        all_apps=all_apps,
        remove_apps=remove,
        env_ids=envs,
        images=_images(images),
        allow_mass_delete=allow_mass_delete,
        destroyed=destroyed,
        provenance=publishing.Provenance.from_environ(os.environ, _platform_commit(base)),
        platform_digest=settings.platform_digest(base),
        jobs=settings.jobs(os.environ),
    )
    outcomes = publishing.publish(
        platform,
        req,
        os.environ,
        checks.warnings_after_enforce(req.jobs),
        gitlab.MergeRequests(*gl) if gl else None,
    )
    _report(outcomes, fmt)


def _repo_url(url: str) -> str:
    return os.path.abspath(url) if os.path.isdir(url) else url


def _report(outcomes: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "branch": o.target,
                        "envs": list(o.envs),
                        "commit": o.commit,
                        "attempts": o.attempts,
                        "written": o.written,
                        "deleted": o.deleted,
                        "merge_request": o.merge_request,
                    }
                    for o in outcomes
                ],
                indent=2,
                sort_keys=True,
            )
        )
        return
    for o in outcomes:
        if o.commit is None:
            click.echo(f"{o.target} ({', '.join(o.envs)}): up to date, no commit")
        else:
            extra = f", merge request {o.merge_request}" if o.merge_request else ""
            click.echo(
                f"{o.target} ({', '.join(o.envs)}): {o.commit[:12]} "
                f"({o.written} written, {o.deleted} deleted, attempt {o.attempts}){extra}"
            )


@main.command()
@click.option(
    "--env-repo",
    "path",
    default=None,
    type=click.Path(file_okay=False),
    help="Bare repo to publish to (default: .demo/env-repo.git under the root).",
)
@root_option
@format_option
@handled
def demo(path: str | None, root: str | None, fmt: str) -> None:
    """The embedded default end to end: every example app, every environment, a local env repo."""
    from renderer.inputs import roots as settings
    from renderer.publish import demo as demoing

    base = settings.find_root(root, os.environ)
    summary = demoing.run(
        base,
        path or os.path.join(base, ".demo", "env-repo.git"),
        _platform_commit(base),
        os.environ,
    )
    click.echo(json.dumps(summary, indent=2, sort_keys=True) if fmt == "json" else demoing.as_text(summary))


@main.group()
def policy() -> None:
    """Conftest-compatible Rego policies."""


@policy.command("test")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@root_option
@format_option
@handled
def policy_test(directory: str | None, root: str | None, fmt: str) -> None:
    """Run the policies' own *_test.rego unit tests, as `opa test` does."""
    from renderer.checks.rego import policyset as conftest
    from renderer.errors import PolicyDenied
    from renderer.inputs import roots as settings

    base = directory or os.path.join(settings.find_root(root, os.environ), "policies")
    outcomes = conftest.run_tests(conftest.read_source(base))
    failed = [o for o in outcomes if not o.passed]
    if fmt == "json":
        click.echo(
            json.dumps(
                [{"package": o.package, "test": o.name, "passed": o.passed} for o in outcomes],
                indent=2,
                sort_keys=True,
            )
        )
    else:
        for o in outcomes:
            click.echo(f"{'PASS' if o.passed else 'FAIL'}: data.{o.package}.{o.name}")
        click.echo(f"{len(outcomes) - len(failed)}/{len(outcomes)} policy tests passed")
    if failed or not outcomes:
        raise PolicyDenied(
            "no policy tests found" if not outcomes else f"{len(failed)} policy test(s) failed"
        )
