"""Gatekeeper files in a policy set: what a platform team gets wrong, reported with file, path and line
(exit 3, nothing written); templates written for these tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from renderer.errors import EXIT_INVALID
from tests.conftest import write

TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: {name}
spec:
  crd:
    spec:
      names:
        kind: {kind}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            size: {{type: integer}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
{rego}
"""
REGO = """        package t

        violation[{"msg": "no"}] {
          input.parameters.size > 100
        }"""


def template(kind: str = "TestSize", rego: str = REGO, name: str = "") -> str:
    return TEMPLATE.format(name=name or kind.lower(), kind=kind, rego=rego)


def constraint(kind: str = "TestSize", spec: str = "  parameters: {size: 1}\n", name: str = "c") -> str:
    head = f"apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: {kind}\n"
    return f"{head}metadata:\n  name: {name}\nspec:\n{spec}"


GK = "policies/gatekeeper"


def problems(project: Path, tmp_path: Path, cli: Callable[..., Result], files: dict[str, str]) -> list[str]:
    for rel, text in files.items():
        write(project / GK / rel, text)
    out = tmp_path / "out"
    result = cli("render", "--root", str(project), "--env", "dev", "--out", str(out))
    assert result.exit_code == EXIT_INVALID, result.output
    assert not out.exists()
    return [line for line in result.output.splitlines() if line.startswith("platform: ")]


CASES = {
    "rego that does not parse": (
        {
            "templates/t.yaml": template(rego="        package t\n\n        violation[{"),
            "constraints/c.yaml": constraint(),
        },
        "platform: policies/gatekeeper/templates/t.yaml:17: policies/gatekeeper/templates/t.yaml "
        "(ConstraintTemplate TestSize, Rego from line 17): policies/gatekeeper/templates/t.yaml#rego: "
        "not valid Rego (v1: --> policies/gatekeeper/templates/t.yaml#rego:4:1",
    ),
    "rego with an unsafe variable": (
        {
            "templates/t.yaml": template(
                rego='        package t\n\n        violation[{"msg": m}] {\n'
                '          x == 1\n          m := "a"\n        }'
            ),
        },
        "platform: policies/gatekeeper/templates/t.yaml:17: policies/gatekeeper/templates/t.yaml "
        "(ConstraintTemplate TestSize, Rego from line 17): policies/gatekeeper/templates/t.yaml#rego:4:",
    ),
    "no violation rule": (
        {
            "templates/t.yaml": template(
                rego="        package t\n\n        deny[msg] {\n          msg := 1\n        }"
            )
        },
        "package data.t defines no `violation` rule",
    ),
    "a lib outside lib.": (
        {
            "templates/t.yaml": template().replace(
                "      rego: |",
                "      libs:\n        - |\n          package helpers\n          x := 1\n      rego: |",
            )
        },
        "libs[0] is data.helpers; a lib's package must start with lib.",
    ),
    "unknown template": (
        {"templates/t.yaml": template(), "constraints/c.yaml": constraint(kind="TestOther")},
        "platform: policies/gatekeeper/constraints/c.yaml:2 at kind: no ConstraintTemplate defines the kind "
        "TestOther in this policy set (known: ",
    ),
    "a bad scope": (
        {
            "templates/t.yaml": template(),
            "constraints/c.yaml": constraint(spec="  match:\n    scope: Everywhere\n"),
        },
        "platform: policies/gatekeeper/constraints/c.yaml:7 at spec.match.scope: 'Everywhere' is not one of",
    ),
    "an unknown match field": (
        {
            "templates/t.yaml": template(),
            "constraints/c.yaml": constraint(spec="  match:\n    kind: [Pod]\n"),
        },
        "platform: policies/gatekeeper/constraints/c.yaml:7 at spec.match.kind: "
        "unknown field ('kind' was unexpected)",
    ),
    "In without values": (
        {
            "templates/t.yaml": template(),
            "constraints/c.yaml": constraint(
                spec="  match:\n    labelSelector:\n      matchExpressions:\n"
                "        - {key: a, operator: In}\n"
            ),
        },
        "platform: policies/gatekeeper/constraints/c.yaml:9 at spec.match.labelSelector.matchExpressions[0]: "
        "'values' is a required property",
    ),
    "a bad namespace glob": (
        {
            "templates/t.yaml": template(),
            "constraints/c.yaml": constraint(spec="  match:\n    namespaces: [Kube_*]\n"),
        },
        "at spec.match.namespaces[0]: 'Kube_*' does not match",
    ),
    "parameters against the template's schema": (
        {
            "templates/t.yaml": template(),
            "constraints/c.yaml": constraint(spec="  parameters: {size: big}\n"),
        },
        "platform: policies/gatekeeper/constraints/c.yaml:6 at spec.parameters.size: "
        "'big' is not of type 'integer'",
    ),
    "a bad enforcement action": (
        {
            "templates/t.yaml": template(),
            "constraints/c.yaml": constraint(spec="  enforcementAction: block\n"),
        },
        "at spec.enforcementAction: 'block' is not one of ['deny', 'dryrun', 'warn', 'scoped']",
    ),
    "the name is not the kind": (
        {"templates/t.yaml": template(name="size")},
        "platform: policies/gatekeeper/templates/t.yaml:4 at metadata.name: "
        "the name must be the kind in lowercase: 'testsize'",
    ),
    "two targets": (
        {
            "templates/t.yaml": template().replace(
                "  targets:\n", "  targets:\n    - target: admission.k8s.gatekeeper.sh\n"
            )
        },
        "at spec.targets: [{'target': 'admission.k8s.gatekeeper.sh'}, ",
    ),
    "CEL only": (
        {
            "templates/t.yaml": template().replace(
                "      rego: |\n" + REGO + "\n",
                "      code:\n        - engine: K8sNativeValidation\n          source: {validations: []}\n",
            )
        },
        "platform: policies/gatekeeper/templates/t.yaml:16 at spec.targets[0]: no Rego to evaluate (engines: "
        "K8sNativeValidation); the renderer evaluates Rego only",
    ),
    "a mutation": (
        {"assign.yaml": "apiVersion: mutations.gatekeeper.sh/v1\nkind: Assign\nmetadata: {name: a}\n"},
        "platform: policies/gatekeeper/assign.yaml:1 at apiVersion: "
        "Assign (mutations.gatekeeper.sh) is not evaluated at render time: "
        "only ConstraintTemplates, constraints and ExpansionTemplates are",
    ),
    "a file mixing Gatekeeper and data": (
        {"templates/t.yaml": template() + "---\nregistries: [a]\n"},
        "platform: policies/gatekeeper/templates/t.yaml:24: a document among Gatekeeper objects",
    ),
    "an expansion without its source": (
        {
            "expansions/e.yaml": "apiVersion: expansion.gatekeeper.sh/v1beta1\nkind: ExpansionTemplate\n"
            "metadata: {name: e}\nspec:\n  applyTo: [{groups: [apps], kinds: [Deployment], versions: [v1]}]\n"
            "  generatedGVK: {kind: Pod, version: v1}\n"
        },
        "platform: policies/gatekeeper/expansions/e.yaml:4 at spec: 'templateSource' is a required property",
    ),
    "a constraint defined twice": (
        {"templates/t.yaml": template(), "constraints/c.yaml": constraint() + "---\n" + constraint()},
        "platform: policies/gatekeeper/constraints/c.yaml:11 at metadata.name: TestSize/c is also defined in "
        "policies/gatekeeper/constraints/c.yaml:1",
    ),
    "a template defined twice": (
        {"templates/t.yaml": template(), "templates/u.yaml": template()},
        "platform: policies/gatekeeper/templates/u.yaml:9 at spec.crd.spec.names.kind: "
        "TestSize is also defined in policies/gatekeeper/templates/t.yaml",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_gatekeeper_input_is_a_clear_error(
    case: str, project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    files, expected = CASES[case]
    found = problems(project, tmp_path, cli, files)
    assert any(expected in line for line in found), "\n".join(found)


def test_every_problem_at_once(project: Path, tmp_path: Path, cli: Callable[..., Result]) -> None:
    files = {
        "templates/t.yaml": template(),
        "constraints/a.yaml": constraint(kind="TestOther", name="a"),
        "constraints/b.yaml": constraint(spec="  enforcementAction: block\n", name="b"),
    }
    found = problems(project, tmp_path, cli, files)
    assert [line.split(":")[1] for line in found] == [
        " policies/gatekeeper/constraints/a.yaml",
        " policies/gatekeeper/constraints/b.yaml",
    ]
