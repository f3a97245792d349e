"""Preview names: `preview-<app>-<mr>`, DNS labels of bounded length, never two alike."""

from __future__ import annotations

import itertools
import re

import pytest

from renderer.errors import UsageError
from renderer.publish.previews import preview_name

LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def test_a_short_app_name_is_kept_as_it_is() -> None:
    assert preview_name("shop", 7, 40) == "preview-shop-7"
    assert preview_name("a-1", 23, 40) == "preview-a-1-23"


@pytest.mark.parametrize(
    "app",
    ["x" * 60, "Shop", "shop_api", "../../kubernetes/prod", "a b", "é", "", "-", "a" * 30, "shop\nprod"],
)
def test_any_app_name_gives_a_dns_label_exactly_as_long_as_the_limit_when_shortened(app: str) -> None:
    name = preview_name(app, 4242, 40)
    assert LABEL.fullmatch(name) and name.startswith("preview-") and name.endswith("-4242"), name
    assert len(name) == 40, name
    assert "/" not in name and ".." not in name


def test_plain_and_shortened_names_never_meet() -> None:
    """A plain name is shorter than the limit, a shortened one exactly as long: an app cannot take
    another's shortened name by being named like it."""
    victim = preview_name("a" * 35, 7, 40)
    squatter = victim.removeprefix("preview-").removesuffix("-7")
    assert preview_name(squatter, 7, 40) != victim


def test_names_of_different_apps_and_merge_requests_differ() -> None:
    apps = ["shop", "shop-1", "shop-1-2", "x" * 39, "x" * 40, "y" * 80, "Shop", "SHOP", "a b"]
    mrs = [1, 2, 12, 21, 9_999_999_999]
    names = [preview_name(a, m, 40) for a, m in itertools.product(apps, mrs)]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 40 for n in names)


@pytest.mark.parametrize("mr", [0, -1, 10**10])
def test_a_merge_request_out_of_range_is_a_usage_error(mr: int) -> None:
    with pytest.raises(UsageError, match=r"give the merge request's IID \(1 to 9999999999\)"):
        preview_name("shop", mr, 40)


def test_a_limit_too_small_for_previews_is_a_usage_error() -> None:
    with pytest.raises(
        UsageError, match="apps.max_name_length 20 in trust.yaml leaves no room for preview names"
    ):
        preview_name("x" * 30, 7, 20)
