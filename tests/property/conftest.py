"""Hypothesis profiles for the property tests: `ci` (the default, bounded) and `long` (minutes).

Select one with HYPOTHESIS_PROFILE=long (or pytest's --hypothesis-profile=long). `ci` is
derandomized, so every run tries the same examples and a failure reproduces as it is."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
# A run of a few minutes: random (not derandomized) so each run explores new inputs; a failure
# prints the blob to pass to @reproduce_failure.
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
