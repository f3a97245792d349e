"""A profile's alert templates are checked when the platform loads, in every environment: a broken
one is refused (exit 3, the profile file, its line and YAML path) even where no cluster runs the
Prometheus Operator and so no rule would ever be rendered from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import edit

Cli = Callable[..., Result]
DEV_PROFILE = "platform-config/profiles/development.yaml"
ALERTS = """  opentelemetry: true
  alerts:
    - alert: TargetDown
      expr: "min(up{ {{ matchers }} }) == 0"
      severity: page
      summary: "SUMMARY"
"""


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        ("{{ app }} in {{ enviroment }} is down", "'enviroment' is undefined"),
        ("{{ app ", "alert rule: template syntax error"),
    ],
)
def test_a_broken_alert_template_is_refused_where_nothing_is_monitored(
    cli: Cli, project: Path, tmp_path: Path, summary: str, message: str
) -> None:
    profile = project / DEV_PROFILE
    edit(profile, "  opentelemetry: true\n", ALERTS.replace("SUMMARY", summary))
    line = profile.read_text().splitlines().index(f'      summary: "{summary}"') + 1
    result = cli("render", "--root", str(project), "--env", "dev", "--out", str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert message in result.output
    assert f"{DEV_PROFILE}:{line}" in result.output
    assert "observability.alerts[0].summary" in result.output
    assert not (tmp_path / "out").exists()


def test_a_sound_alert_template_in_an_unmonitored_environment_renders_no_rule(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    edit(project / DEV_PROFILE, "  opentelemetry: true\n", ALERTS.replace("SUMMARY", "{{ app }} is down"))
    out = tmp_path / "out"
    result = cli("render", "--root", str(project), "--env", "dev", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert not list(out.rglob("prometheusrule-*"))
