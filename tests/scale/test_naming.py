"""Branch names, subjects and MR titles stay bounded at any number of apps; no made-up provenance."""

from __future__ import annotations

import pytest

from renderer.publish import delivery, naming


def ids(n: int) -> list[str]:
    return [f"app-{i:04d}" for i in range(n)]


def test_a_few_apps_are_named() -> None:
    assert naming.scope(["shop"], False) == "shop"
    assert naming.scope(["cart", "shop", "cart"], False) == "cart+shop"
    assert naming.headline(["shop", "cart"], False) == "cart+shop"
    assert naming.app_list(["shop", "cart"], False) == ""  # the name already says it


@pytest.mark.parametrize("n", [4, 250, 4000])
def test_a_larger_set_is_named_by_its_hash(n: int) -> None:
    apps = ids(n)
    name = naming.scope(apps, False)
    assert name == naming.scope(list(reversed(apps)), False)  # stable: order does not matter
    assert name.startswith("apps.") and len(name) == len("apps.") + 12
    assert name != naming.scope(apps[:-1], False)
    subject = naming.subject("render", ["dev", "staging"], apps, False, "feedbeef0001")
    assert subject == f"render(dev,staging): {n} apps ({name}) @ feedbeef"
    listed = naming.app_list(apps, False)
    assert listed.startswith(f"Apps ({n}, {name}):\n") and all(a in listed for a in apps)
    assert max(len(line) for line in listed.splitlines()[1:]) <= 72


def test_names_too_long_together_are_hashed() -> None:
    long = ["a" * 40, "b" * 40]
    assert naming.scope(long, False) == naming.set_id(long)
    assert naming.scope(["a" * 63], False) == "a" * 63  # one app: always its own name


def test_a_set_name_is_never_an_app_name() -> None:
    """App ids are DNS labels: `.` and `+` cannot be in one, so no app can take a set's branch."""
    assert "." in naming.set_id(ids(5)) and "+" in naming.scope(["a", "b"], False)


def test_all_apps() -> None:
    assert naming.scope(ids(9), True) == "all-apps" == naming.headline(ids(9), True)
    assert naming.app_list(ids(9), True) == ""


def test_no_source_commit_is_said_so() -> None:
    subject = naming.subject("render", ["dev"], ["shop"], False, "")
    assert subject == "render(dev): shop (source commit: unknown)"
    provenance = delivery.Provenance.from_environ({}, "abc")
    assert provenance.source_commit == ""
    assert "Source-Commit: unknown\n" in provenance.trailers()
    assert "0000000" not in provenance.trailers()
    assert delivery.Provenance.from_environ({"CI_COMMIT_SHA": "feedbeef"}, "abc").source_commit == "feedbeef"
