"""The shipped Gatekeeper set (policies/gatekeeper, our own templates) in the render: the examples
pass; each constraint denies what it is about with its message; enforcement actions, the
environment's mode and the inventory as a platform team would use them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from renderer.errors import EXIT_OK, EXIT_POLICY
from tests.conftest import write

API = "examples/apps/shop/score.yaml"
REGISTRIES = "policies/gatekeeper/constraints/allowed-registries.yaml"
LABELS = "policies/gatekeeper/constraints/workload-labels.yaml"
RULE = "gatekeeper/PlatformAllowedRegistries.allowed-registries"


def edit(project: Path, rel: str, old: str, new: str) -> None:
    path = project / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1))


def render(project: Path, tmp_path: Path, cli: Callable[..., Result], env: str) -> Result:
    return cli("render", "--root", str(project), "--env", env, "--out", str(tmp_path / "out"))


def quay(project: Path) -> None:
    edit(project, API, "image: registry.example.com/shop/api:1.14.2", "image: quay.io/shop/api:1.14.2")


def lines(result: Result, text: str) -> list[str]:
    return [line for line in result.output.splitlines() if text in line]


def test_the_examples_pass_every_shipped_constraint(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    for env in ("dev", "staging", "prod"):
        result = render(project, tmp_path / env, cli, env)
        assert result.exit_code == EXIT_OK, result.output
        assert not lines(result, "gatekeeper/"), result.output


def test_allowed_registries_denies_with_the_constraints_message(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    quay(project)
    result = render(project, tmp_path, cli, "staging")  # prod pulls from ECR (its overrides)
    assert result.exit_code == EXIT_POLICY
    assert lines(result, RULE)[0] == (
        "policy: kubernetes/staging/shop/api/deployment-api.yaml:1 at Deployment/api: "
        f"DENY [staging] {RULE}: "
        "[Implied by expand-workloads] Pod api-pod: container api pulls quay.io/shop/api:1.14.2, which is "
        "not from an allowed registry (333333333333.dkr.ecr.eu-central-1.amazonaws.com/, "
        "registry.example.com/, ghcr.io/) (from examples/apps/shop/score.yaml)"
    )
    assert not (tmp_path / "out").exists()


def test_required_labels_deny_a_missing_label_and_a_value_off_pattern(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    edit(
        project,
        LABELS,
        "      - key: app.kubernetes.io/part-of\n",
        "      - key: app.kubernetes.io/part-of\n        allowedRegex: ^billing$\n      - key: cost-centre\n",
    )
    result = render(project, tmp_path, cli, "staging")
    assert result.exit_code == EXIT_POLICY
    found = lines(result, "gatekeeper/PlatformRequiredLabels.workload-labels")
    assert any(
        "Deployment/api: DENY [staging] gatekeeper/PlatformRequiredLabels.workload-labels: Deployment api: "
        'label app.kubernetes.io/part-of is "shop", which does not match ^billing$' in line
        for line in found
    ), found
    assert any(
        "Deployment/api: DENY" in line and "Deployment api has no label cost-centre" in line for line in found
    )
    assert not any('part-of is "billing"' in line for line in found), found


def test_warn_and_dryrun_constraints_warn(project: Path, tmp_path: Path, cli: Callable[..., Result]) -> None:
    quay(project)
    edit(project, REGISTRIES, "enforcementAction: deny", "enforcementAction: warn")
    result = render(project, tmp_path / "warn", cli, "dev")
    assert result.exit_code == EXIT_OK, result.output
    assert lines(
        result, f"WARN [dev] {RULE}: [Implied by expand-workloads] Pod api-pod: container api pulls quay.io"
    )
    edit(project, REGISTRIES, "enforcementAction: warn", "enforcementAction: dryrun")
    result = render(project, tmp_path / "dryrun", cli, "dev")
    assert result.exit_code == EXIT_OK, result.output
    assert any(
        line.endswith(
            "(dryrun) — Deployment/api in kubernetes/dev/shop/api/deployment-api.yaml "
            "(from examples/apps/shop/score.yaml)"
        )
        for line in lines(result, RULE)
    ), result.output


def test_the_environments_mode_for_the_set(project: Path, tmp_path: Path, cli: Callable[..., Result]) -> None:
    """dev warns on the set (as on baseline), deny denies, off skips it."""
    quay(project)
    result = render(project, tmp_path / "warn", cli, "dev")
    assert result.exit_code == EXIT_OK, result.output
    assert lines(result, f"WARN [dev] {RULE}")
    edit(project, "environments/dev.yaml", "  gatekeeper: warn", "  gatekeeper: deny")
    result = render(project, tmp_path / "deny", cli, "dev")
    assert result.exit_code == EXIT_POLICY and lines(result, f"DENY [dev] {RULE}"), result.output
    edit(project, "environments/dev.yaml", "  gatekeeper: deny", "  gatekeeper: off")
    result = render(project, tmp_path / "off", cli, "dev")
    assert result.exit_code == EXIT_OK and not lines(result, RULE), result.output


def test_scoped_enforcement_counts_only_the_points_render_time_stands_for(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    quay(project)
    edit(project, "environments/dev.yaml", "  gatekeeper: warn", "  gatekeeper: deny")
    scoped = (
        "enforcementAction: scoped\n  scopedEnforcementActions:\n"
        "    - action: deny\n      enforcementPoints:\n        - name: {point}"
    )
    edit(project, REGISTRIES, "enforcementAction: deny", scoped.format(point="audit.gatekeeper.sh"))
    result = render(project, tmp_path / "audit", cli, "dev")
    assert result.exit_code == EXIT_OK and not lines(result, RULE), result.output
    edit(project, REGISTRIES, "audit.gatekeeper.sh", "validation.gatekeeper.sh")
    result = render(project, tmp_path / "webhook", cli, "dev")
    assert result.exit_code == EXIT_POLICY and lines(result, f"DENY [dev] {RULE}"), result.output


PDB_TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: testneedsdisruptionbudget
spec:
  crd:
    spec:
      names:
        kind: TestNeedsDisruptionBudget
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package testneedsdisruptionbudget

        import rego.v1

        violation contains {"msg": msg} if {
          ns := input.review.object.metadata.namespace
          labels := input.review.object.spec.template.metadata.labels
          not covered(ns, labels)
          msg := sprintf("no PodDisruptionBudget in %v selects %v", [ns, input.review.object.metadata.name])
        }

        covered(ns, labels) if {
          some pdb in data.inventory.namespace[ns]["policy/v1"].PodDisruptionBudget
          every key, value in pdb.spec.selector.matchLabels { labels[key] == value }
        }
"""
PDB_CONSTRAINT = """apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TestNeedsDisruptionBudget
metadata:
  name: deployments
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
"""


def test_the_inventory_is_the_rendered_environment(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    write(project / "policies/gatekeeper/templates/pdb.yaml", PDB_TEMPLATE)
    write(project / "policies/gatekeeper/constraints/pdb.yaml", PDB_CONSTRAINT)
    rule = "gatekeeper/TestNeedsDisruptionBudget.deployments"
    prod = render(project, tmp_path / "prod", cli, "prod")
    assert prod.exit_code == EXIT_OK and not lines(prod, rule), prod.output  # prod renders the budgets
    dev = render(project, tmp_path / "dev", cli, "dev")
    assert dev.exit_code == EXIT_OK, dev.output
    assert any(
        f"WARN [dev] {rule}: no PodDisruptionBudget in shop-dev selects api" in line
        for line in lines(dev, rule)
    ), dev.output


def test_a_template_that_fails_on_a_rendered_object_denies_whatever_the_mode(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    edit(
        project, REGISTRIES, "enforcementAction: deny", "enforcementAction: warn"
    )  # dev warns on the set too
    edit(
        project,
        "policies/gatekeeper/templates/platformallowedregistries.yaml",
        "some container in pods.containers(input.review.object)",
        "some container in pods.containers(input.review.object)\n"
        "                1 / count(input.parameters.none) > 0",
    )
    edit(project, REGISTRIES, "registries: [", "none: []\n    registries: [")
    result = render(project, tmp_path, cli, "dev")
    assert result.exit_code == EXIT_POLICY, result.output
    assert lines(result, "evaluation failed for PlatformAllowedRegistries/allowed-registries:"), result.output


def test_constraints_review_the_entry_points_the_cluster_admits_too(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """A constraint on Flux Kustomizations reaches the entry points in clusters/<env>/, each
    named as the object it is."""
    edit(
        project,
        LABELS,
        "        kinds: [Job, CronJob]\n",
        "        kinds: [Job, CronJob]\n      - apiGroups: [kustomize.toolkit.fluxcd.io]\n"
        "        kinds: [Kustomization]\n",
    )
    edit(project, LABELS, "excludedNamespaces: [kube-*, flux-system, argocd]", "excludedNamespaces: [kube-*]")
    edit(
        project,
        LABELS,
        "        allowedRegex: ^platform-renderer$\n",
        "        allowedRegex: ^platform-renderer$\n      - key: tier\n",
    )
    result = render(project, tmp_path, cli, "staging")
    assert result.exit_code == EXIT_POLICY
    found = lines(result, "gatekeeper/PlatformRequiredLabels.workload-labels")
    assert any(
        line.startswith(
            "policy: clusters/staging/renderer/shop/kustomization-app-staging-shop.yaml:1 at "
            "Kustomization/app-staging-shop: DENY"
        )
        and "has no label tier" in line
        for line in found
    ), found
