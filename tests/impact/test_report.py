"""`review.impact.assess` and its reports on hand-made sides: no renderer process, no git."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from renderer.resolve.dependencies import Dependencies, covers, files
from renderer.review import impactreport, sides
from renderer.review.impact import assess
from renderer.review.sides import TOGETHER, Failure, Side
from tests.conftest import git

DEPLOY = "kubernetes/prod/shop/api/deployment-api.yaml"
OBJECT = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {n}\n"
RECORD = {
    "prod": Dependencies(
        {"shop": files(["environments/prod.yaml", "platform-config/modules/s3-bucket/"], ["p/dev.yaml"])}, {}
    )
}


def side(n: int, failures: dict[str, Failure] | None = None) -> Side:
    return Side("/x", {DEPLOY: OBJECT.format(n=n).encode()}, failures or {})


def test_a_changed_pair_names_the_changed_files_it_depends_on_and_no_others() -> None:
    changed = ["environments/prod.yaml", "environments/dev.yaml", "p/dev.yaml"]
    impact = assess(side(3), side(4), RECORD, changed, ("base", "head"))
    (pair,) = impact.pairs
    assert (pair.scope, pair.why, pair.considered) == (
        "prod/shop",
        ("environments/prod.yaml",),
        ("p/dev.yaml",),
    )
    assert impactreport.text(impact).splitlines()[2] == "prod/shop: 1 changed; why: environments/prod.yaml"


def test_a_folder_in_the_record_covers_the_files_below_it_only() -> None:
    record = ["platform-config/modules/s3-bucket/", "environments/prod.yaml"]
    assert covers(record, "platform-config/modules/s3-bucket/main.tf.json")
    assert not covers(record, "platform-config/modules/s3-bucket-v2/main.tf.json")
    assert not covers(record, "environments/prod.yaml.orig")


def test_failures_new_still_and_fixed_are_told_apart() -> None:
    broken = Failure("shop", 3, "score.yaml:4: no resource definition matches")
    base = side(3, {"billing": Failure("billing", 4, "denied"), "shop": broken})
    head = side(3, {"shop": broken, "web": Failure("web", 4, "production needs at least 2 replicas")})
    impact = assess(base, head, RECORD, [], ("base", "head"))
    assert [f.app for f in impact.new_failures] == ["web"] and impact.fixed == ("billing",)
    assert [f.app for f in impact.still_failing] == ["shop"] and not impact.none
    body = impactreport.as_json(impact)
    assert body["new_failures"] == [
        {
            "app": "web",
            "code": 4,
            "category": "policy denied",
            "message": "production needs at least 2 replicas",
        }
    ]
    json.dumps(body)


def test_a_failure_message_cannot_break_out_of_its_fence_and_names_are_escaped() -> None:
    hostile = "```\n# injected heading <img src=x>\n````"
    head = side(3, {"a_b": Failure("a_b", 4, hostile), TOGETHER: Failure(TOGETHER, 3, "conflict")})
    note = impactreport.markdown(assess(side(3), head, RECORD, [], ("base", "head")))
    assert "`````text\n" + hostile + "\n`````\n" in note
    assert "**Newly fails**: a&#95;b (policy denied, exit 4)" in note
    assert "**Newly fails**: the apps together &#40;each renders alone&#41; (invalid input, exit 3)" in note


def test_no_change_is_no_impact() -> None:
    impact = assess(side(3), side(3), RECORD, ["environments/prod.yaml"], ("abc", "the work tree"))
    assert impact.none
    assert impactreport.text(impact).startswith(
        "no impact: the work tree renders every stored app exactly as abc"
    )
    assert "no impact" in impactreport.markdown(impact)


def test_only_failures_say_so_in_the_headline() -> None:
    head = side(3, {"web": Failure("web", 4, "denied")})
    assert (
        impactreport.headline(assess(side(3), head, RECORD, [], ("b", "h")))
        == "impact of h against b: 1 app(s) newly failing"
    )


def test_affected_apps_are_those_whose_record_a_change_touches() -> None:
    from renderer.resolve.dependencies import affected

    records = {
        "billing": files(["environments/prod.yaml", "platform-config/modules/s3-bucket/"], ["p/dev.yaml"]),
        "shop": files(["environments/prod.yaml", "p/shop.yaml"]),
    }
    assert affected(records, ["p/shop.yaml"]) == ("shop",)
    assert affected(records, ["p/dev.yaml"]) == ("billing",)  # a candidate may start to match
    assert affected(records, ["platform-config/modules/s3-bucket/main.tf.json"]) == ("billing",)
    assert affected(records, []) == ()
    assert affected(records, ["platform-config/resources/new.yaml"]) is None  # no record covers it
    assert affected({**records, "old": None}, ["p/shop.yaml"]) is None  # an index of version 1


def test_the_note_draws_each_environments_affected_graph_in_its_own_section() -> None:
    impact = assess(side(3), side(4), RECORD, ["environments/prod.yaml"], ("base", "head"))
    drawn = replace(impact, pictures={"prod": "```mermaid\nflowchart LR\n  a --> b\n```\n"})
    note = impactreport.markdown(drawn)
    section = "<details><summary>The affected part of the resource graph in prod</summary>\n\n```mermaid\n"
    assert section in note and note.index(section) < note.index("```diff")
    assert impactreport.as_json(drawn)["pictures"] == {"prod": drawn.pictures["prod"]}


def test_changed_files_are_named_as_they_are_even_when_not_ascii(tmp_path: Path) -> None:
    """git quotes a non-ASCII name in a plain listing (`"caf\\303\\251.yaml"`): read NUL-separated."""
    root = tmp_path / "platform"
    git("init", "-q", "-b", "main", str(root))
    (root / "a.yaml").write_text("a\n")
    git("add", "-A", cwd=root)
    git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "base", cwd=root)
    base = git("rev-parse", "HEAD", cwd=root)
    (root / "environments").mkdir()
    (root / "environments" / "caf\u00e9.yaml").write_text("x\n")
    (root / "a.yaml").write_text("b\n")
    assert sides.changed_files(str(root), base, None, os.environ) == ("a.yaml", "environments/caf\u00e9.yaml")
    git("add", "-A", cwd=root)
    git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "head", cwd=root)
    head = git("rev-parse", "HEAD", cwd=root)
    assert sides.changed_files(str(root), base, head, os.environ) == ("a.yaml", "environments/caf\u00e9.yaml")
