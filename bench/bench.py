"""Benchmark: a generated fleet published as a user runs it (whole processes), beside git's floor.

    python bench/bench.py --workloads 250,1000,4000 --per-app 1,5

For each size (workloads in all) and workloads per app, it generates the apps (realistic Score files:
2-3 resources each, shared ones, files, probes) and a platform root with 4 environments (the shipped
three and `qa`), then times, each as a whole process, with its peak memory (the child's rusage):
a first publish into an empty bare repo; the floor (the same output committed with `git add -A &&
git commit` and pushed to a fresh bare repo, alternating with the publish); a no-op publish of every
app and of one app, with its floor (start-up, `git ls-remote`, fetching the app's bookkeeping); one
workload changed; a platform change touching 10% of apps (`publish --all-apps`) and `impact` for it;
render without checks, the checks (schemas, policies, secret scan) and the secret scan alone.
Prints one Markdown table. Run by hand: it takes minutes, and is not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import fleet  # noqa: E402


@dataclass
class Row:
    label: str
    seconds: float
    peak_mib: float
    note: str = ""


class Rows(list[Row]):
    """The rows of one size, each printed (to stderr) the moment it is measured: a long run that is
    stopped still leaves its figures."""

    def append(self, row: Row) -> None:
        super().append(row)
        print(
            f"| {row.label} | {row.seconds:.2f} | {row.peak_mib:.0f} | {row.note} |",
            file=sys.stderr,
            flush=True,
        )


def run(
    argv: Sequence[str], cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Run a whole process; (seconds, peak resident MiB of it and the children it waited for).

    The peak comes from GNU time (`/usr/bin/time -f %M`), itself a small process: Linux starts a
    forked child's peak at its parent's size, so the rusage `wait4` gives for a child of this
    (large) process would report at least this process's own size, whatever the child used. Without
    GNU time, that inflated figure is reported. A failure stops the bench."""
    timer = shutil.which("time", path="/usr/bin:/bin")
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r") as peak,
    ):
        command = [timer, "-f", "%M", "-o", peak.name, *argv] if timer else list(argv)
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            out.seek(0)
            said = err.read()[-4000:] + out.read()[-2000:]
            raise SystemExit(f"{' '.join(argv[:8])} ... failed ({proc.returncode}):\n{said}")
        reported = peak.read().split()
    kib = int(reported[-1]) if timer and reported and reported[-1].isdigit() else usage.ru_maxrss
    return seconds, kib / 1024


def git(*args: str) -> list[str]:
    return ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args]


def renderer(*args: str) -> list[str]:
    return [sys.executable, "-m", "renderer", *args]


def bench_env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CI", "GITLAB_", "RENDERER_"))}
    return {**keep, "PYTHONPATH": ROOT, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def bare(path: str) -> str:
    """An empty environment repo serving clones without file contents, as GitLab does."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", path], check=True)
    subprocess.run(["git", "--git-dir", path, "config", "uploadpack.allowFilter", "true"], check=True)
    return path


def export_output(repo: str, dest: str) -> int:
    """Every branch's files, main first, in one directory: what the publish wrote in all."""
    branches = subprocess.run(
        ["git", "--git-dir", repo, "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    os.makedirs(dest)
    for branch in sorted(branches, key=lambda b: (b != "main", b)):
        archive = subprocess.run(
            ["git", "--git-dir", repo, "archive", branch], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
    return sum(len(files) for _, _, files in os.walk(dest))


def floor(output: str, work: str, env: dict[str, str]) -> tuple[float, float]:
    """`git init && git add -A && git commit` of a copy of the output, pushed to a fresh bare repo."""
    tree = os.path.join(work, "floor-tree")
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(output, tree)
    target = bare(os.path.join(work, "floor.git"))
    script = (
        f"git init -q -b main && git add -A && {' '.join(git('commit', '-qm', 'floor'))} && "
        f"git push -q {target} main"
    )
    result = run(["sh", "-c", script], cwd=tree, env=env)
    shutil.rmtree(target)
    return result


def merge_branches(repo: str, work: str, root: str) -> None:
    """What reviewers and Atlantis do after a publish: every branch the publish opened (the
    protected environments' `render/…`, the direct ones' `atlantis/…`) merged into main, then deleted."""
    branches = subprocess.run(
        ["git", "--git-dir", repo, "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    others = [b for b in branches if b != "main"]
    if not others:
        return
    clone = os.path.join(work, "merge")
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", repo, clone], check=True)
    for branch in sorted(others):
        merged = subprocess.run(git("-C", clone, "merge", "-q", "--no-edit", f"origin/{branch}"), check=False)
        if merged.returncode != 0:
            _resolve_atlantis(clone, root)
    subprocess.run(
        ["git", "-C", clone, "push", "-q", "origin", "main", *(f":{b}" for b in others)], check=True
    )
    shutil.rmtree(clone)


def _resolve_atlantis(clone: str, root: str) -> None:
    """Both branches changed `atlantis.yaml` (derived from the projects present): derive it again,
    as the next publish would; any other conflict stops the bench."""
    from renderer.inputs import platform_config
    from renderer.publish.writer import on_disk
    from renderer.render.terraform import atlantis_file, project_modules

    conflicted = subprocess.run(
        ["git", "-C", clone, "diff", "--name-only", "--diff-filter=U"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if conflicted != ["atlantis.yaml"]:
        raise SystemExit(f"merging the publish's branches conflicts in {conflicted}")
    paths = subprocess.run(
        ["git", "-C", clone, "ls-files"], capture_output=True, text=True, check=True
    ).stdout
    environments = platform_config.load_platform(root).environments
    with open(os.path.join(clone, "atlantis.yaml"), "wb") as fh:
        projects = project_modules(sorted(set(paths.split())), on_disk(clone).read)
        fh.write(atlantis_file(projects, environments))
    subprocess.run(["git", "-C", clone, "add", "atlantis.yaml"], check=True)
    subprocess.run(git("-C", clone, "commit", "-q", "--no-edit"), check=True)


def noop_floor(repo: str, app: str, work: str, env: dict[str, str]) -> tuple[float, float]:
    """What a no-op publish cannot avoid: start the renderer, ask the remote its head, fetch one
    app's bookkeeping (a shallow, blob-less clone, then that app's files)."""
    clone = os.path.join(work, "noop-floor")
    shutil.rmtree(clone, ignore_errors=True)
    script = (
        f"{sys.executable} -m renderer --help >/dev/null && git ls-remote {repo} main >/dev/null && "
        f"git clone -q --depth 1 --filter=blob:none --no-checkout file://{repo} {clone} && "
        f"git -C {clone} checkout -q main -- .render/apps/{app}"
    )
    return run(["sh", "-c", script], env=env)


STAGES = (
    ("render", "render, no checks"),
    ("checks", "render + checks (schemas, policies, secrets)"),
    ("secrets", "secret scan alone"),
)


def compiled() -> None:
    """The renderer's bytecode, as an installed package has it (pip compiles it at install). Run
    from a checkout with PYTHONDONTWRITEBYTECODE set, every process compiled the renderer's
    source again: 0.2 s of each no-op, none of it the renderer's own cost."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(ROOT, "renderer")], check=True)


def measure(total: int, per_app: int, work: str, repeats: int) -> tuple[list[Row], str]:
    env = bench_env()
    compiled()
    root = fleet.platform_root(os.path.join(work, "platform"))
    apps = fleet.generate(os.path.join(work, "apps"), total // per_app, per_app)
    app_args = [a for folder in apps for a in ("--app", folder)]
    publish = ["publish", "--root", root, "--all-envs", "--quiet"]
    rows = Rows()
    firsts, floors = [], []
    output = os.path.join(work, "output")
    for attempt in range(repeats):  # alternating: publish, floor, publish, floor
        repo = os.path.join(work, f"env-{attempt}.git")
        firsts.append(run(renderer(*publish, "--env-repo", bare(repo), *app_args), env=env))
        if attempt == 0:
            files = export_output(repo, output)
        floors.append(floor(output, work, env))
        if attempt:
            shutil.rmtree(repo)
    repo = os.path.join(work, "env-0.git")
    first, low = min(firsts), min(floors)
    rows.append(Row("full publish, empty repo", *first, f"{first[0] / low[0]:.2f}x floor"))
    rows.append(Row("floor: git add -A && commit && push", *low))
    merge_branches(repo, work, root)
    again = run(renderer(*publish, "--env-repo", repo, *app_args), env=env)
    rows.append(Row("no-op publish, every app", *again))
    one = run(renderer(*publish, "--env-repo", repo, "--app", apps[0]), env=env)
    one_floor = noop_floor(repo, os.path.basename(apps[0]), work, env)
    rows.append(Row("no-op publish, one app", *one, f"{one[0] / one_floor[0]:.2f}x its floor"))
    rows.append(Row("no-op floor: start + ls-remote + fetch bookkeeping", *one_floor))
    fleet.change_workload(apps[0])
    changed = run(renderer(*publish, "--env-repo", repo, "--app", apps[0]), env=env)
    rows.append(Row("one workload changed", *changed, f"floor + {changed[0] - one_floor[0]:.2f} s"))
    merge_branches(repo, work, root)
    fleet.change_platform(root)
    impact = run(renderer("impact", "--root", root, "--base", "HEAD~1", "--env-repo", repo), env=env)
    rows.append(Row("impact of a platform change (10% of apps)", *impact))
    platform = run(renderer(*publish, "--env-repo", repo, "--all-apps"), env=env)
    rows.append(Row("publish --all-apps after it", *platform))
    for stage, label in STAGES:
        rows.append(Row(f"{label} (inside one process)", *_inner(stage, root, apps, env)))
    return rows, f"{total} workloads ({len(apps)} apps x {per_app}) x 4 envs, {files:,} files"


def _inner(stage: str, root: str, apps: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """A stage timed inside its own process (start-up and loading excluded), with that process's
    peak (GNU time's, as in `run`, where it is installed; else the stage's own rusage)."""
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r") as peak:
        prefix = [timer, "-f", "%M", "-o", peak.name] if timer else []
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "bench.stages", stage, root, *apps],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        reported = peak.read().split()
    if proc.returncode != 0:
        raise SystemExit(f"bench.stages {stage} failed:\n{proc.stderr[-4000:]}")
    seconds, own = proc.stdout.split()
    if timer and reported and reported[-1].isdigit():
        return float(seconds), int(reported[-1]) / 1024
    return float(seconds), float(own)


def table(sections: Sequence[tuple[str, list[Row]]]) -> str:
    lines = ["| size | step | seconds | peak MiB | note |", "|---|---|---:|---:|---|"]
    for title, rows in sections:
        for i, row in enumerate(rows):
            lines.append(
                f"| {title if i == 0 else ''} | {row.label} | {row.seconds:.2f} | "
                f"{row.peak_mib:.0f} | {row.note} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", default="250,1000", help="total workloads, comma-separated")
    parser.add_argument("--per-app", default="1,5", help="workloads per app, comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="publish/floor pairs, alternating (min kept)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    sections = []
    for total in (int(n) for n in args.workloads.split(",")):
        for per_app in (int(n) for n in args.per_app.split(",")):
            work = tempfile.mkdtemp(prefix="renderer-bench-")
            try:
                rows, title = measure(total, per_app, work, args.repeats)
                sections.append((title, rows))
                print(table([(title, rows)]), flush=True)
            finally:
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{os.cpu_count()} cores; python {sys.version.split()[0]}\n")
    print(table(sections))


if __name__ == "__main__":
    main()
