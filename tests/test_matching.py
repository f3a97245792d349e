"""The graph's memo of matches (`Matcher`) answers as `match_resource` does, request after request."""

from __future__ import annotations

import dataclasses
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.inputs import platform_config
from renderer.model import Criterion, Platform, ResourceDefinition
from renderer.resolve.matching import Matcher, Request, match_resource
from tests.conftest import ROOT

NAMES = st.sampled_from(["a", "b", None])
CRITERIA = st.builds(
    Criterion,
    env_type=st.sampled_from(["development", "production", None]),
    env=st.sampled_from(["dev", "prod", None]),
    app=NAMES,
    res_id=NAMES,
)
DEFINITIONS = st.lists(
    st.tuples(
        st.sampled_from(["postgres", "redis"]),
        st.sampled_from(["default", "*", "big"]),
        st.lists(CRITERIA, min_size=1, max_size=3),
    ),
    max_size=6,
)
REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(["postgres", "redis", "dns"]),
        st.sampled_from(["default", "big"]),
        NAMES,
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["dev", "prod"]),
    ),
    min_size=1,
    max_size=20,
)


@cache
def _platform() -> Platform:
    return platform_config.load_platform(str(ROOT))


def _definitions(shapes: list[tuple[str, str, list[Criterion]]]) -> list[ResourceDefinition]:
    base = _platform().definitions[0]
    return [
        dataclasses.replace(base, id=f"d{n}", type=type_, klass=klass, criteria=tuple(criteria))
        for n, (type_, klass, criteria) in enumerate(shapes)
    ]


@settings(max_examples=200, deadline=None)
@given(DEFINITIONS, REQUESTS)
def test_the_memo_answers_as_a_match_of_each_request_would(
    shapes: list[tuple[str, str, list[Criterion]]], requests: list[tuple[str, str, str | None, str, str]]
) -> None:
    definitions = _definitions(shapes)
    matcher = Matcher(definitions)
    envs = _platform().environments
    for type_, klass, res_id, app, env in requests:
        request = Request(type_, klass, res_id, app, envs[env])
        assert matcher.match(request) == match_resource(request, definitions)


def test_a_fleet_of_own_ids_is_matched_once() -> None:
    """Where no criterion names an app or an id, every app's own database is one answer."""
    definitions = [d for d in _platform().definitions if d.type == "postgres"]
    assert all(c.app is None and c.res_id is None for d in definitions for c in d.criteria)
    matcher = Matcher(definitions)
    dev = _platform().environments["dev"]
    requests = [Request("postgres", "default", f"app{n}-db", f"app{n}", dev) for n in range(50)]
    assert len({id(matcher.match(request)) for request in requests}) == 1
