"""The platform's Terraform modules publish the non-secret list of their secret's keys (the tag
`check` reads), and that list is what the secret holds and what the rendered output reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from renderer import pipeline
from renderer.adapters.aws import KEYS_TAG
from renderer.inputs import roots
from renderer.review import awscheck
from tests.conftest import ROOT

MODULES = sorted((ROOT / "platform-config/modules").glob("*/main.tf.json"))


def tagged_and_written(module: Path) -> tuple[str, str]:
    """The module's keys tag, and the keys its secret version writes (`jsonencode({k = …})`)."""
    resources = json.loads(module.read_text())["resource"]
    (secret,) = resources["aws_secretsmanager_secret"].values()
    (version,) = resources["aws_secretsmanager_secret_version"].values()
    written = ",".join(sorted(re.findall(r"(\w+) = ", version["secret_string"])))
    return secret["tags"][KEYS_TAG], written


@pytest.mark.parametrize("module", MODULES, ids=[m.parent.name for m in MODULES])
def test_each_module_tags_its_secret_with_the_keys_it_writes(module: Path) -> None:
    tagged, written = tagged_and_written(module)
    assert written, "the module writes no keys: the pattern no longer matches its secret_string"
    assert tagged == written


def test_every_property_the_examples_read_is_a_key_a_module_writes() -> None:
    keys = {k for m in MODULES for k in tagged_and_written(m)[0].split(",")}
    inputs = roots.load(str(ROOT), [])
    options = pipeline.Options(skip_checks_for_tests=True)
    (prod,) = pipeline.run(inputs.platform, inputs.apps, ["prod"], options).envs
    read = {p for n in awscheck.needs(prod).values() for props in n.secrets.values() for p in props}
    assert read and read <= keys, sorted(read - keys)
