"""Every problem the input stage reports (YAML, Score files, app directories, platform files, policy
sets), triggered through `renderer validate` and asserted with its file, line, YAML path and text."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from renderer.errors import EXIT_INVALID, EXIT_USAGE, Problem, count_by_kind
from renderer.inputs import roots
from tests.conftest import ROOT, Problems, edit, located, run_renderer, write

SOLO = """apiVersion: score.dev/v1b1
metadata:
  name: solo
containers:
  main:
    image: ghcr.io/example/solo:1.0.0
"""


def _solo(project: Path, text: str = SOLO, name: str = "score.yaml") -> Path:
    """The project's only app: `examples/apps/solo`, with one Score file."""
    apps = project / "examples" / "apps"
    shutil.rmtree(apps)
    write(apps / "solo" / name, text)
    return apps / "solo"


def _problems(cli: Callable[..., Result], project: Path, *paths: str) -> Problems:
    """`renderer validate --format json`: it must fail as invalid input; its problems, in order."""
    result = cli("validate", "--root", str(project), "--format", "json", *paths)
    assert result.exit_code == EXIT_INVALID, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["error"] == "InputError"
    problems: Problems = report["problems"]
    assert report["message"] == count_by_kind([Problem(**p) for p in problems])  # type: ignore[arg-type]
    return problems


# ---- YAML ------------------------------------------------------------------------------------


def test_score_file_that_is_not_utf8(project: Path, cli: Callable[..., Result]) -> None:
    app = _solo(project)
    (app / "score.yaml").write_bytes(SOLO.replace("solo:1.0.0", "caf\xe9:1").encode("latin-1"))
    assert _problems(cli, project) == [
        located("examples/apps/solo/score.yaml", 0, "", "not UTF-8 text", "save as UTF-8", kind="yaml")
    ]


def test_score_path_that_cannot_be_read(project: Path, cli: Callable[..., Result]) -> None:
    app = _solo(project)
    (app / "score-extra.yaml").mkdir()  # matches score*.yaml, but is no file
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/score-extra.yaml",
            0,
            "",
            "a Score file must be a regular file",
            "links are not followed",
            kind="platform",
        )
    ]


def test_yaml_syntax_error_in_a_platform_file_names_its_line(
    project: Path, cli: Callable[..., Result]
) -> None:
    _solo(project)
    edit(project / "environments/dev.yaml", "  region: eu-west-1\n", "  region: [eu-west-1\n")
    (problem,) = _problems(cli, project)
    assert problem == located(
        "environments/dev.yaml",
        problem["line"],
        "",
        "not valid YAML: did not find expected ',' or ']'",
        "fix the syntax",
        kind="yaml",
    )
    assert problem["line"] == 15  # the line the parser stopped at: the key after the open list


def test_duplicate_key_in_a_platform_file(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    edit(project / "environments/dev.yaml", "type: development\n", "type: development\ntype: again\n")
    (problem,) = _problems(cli, project)
    assert problem["file"] == "environments/dev.yaml" and problem["line"] == 5
    assert problem["path"] == "type"
    assert problem["message"] == "duplicate key 'type' (first on line 4)"
    assert problem["hint"] == "keep one of the keys"


# ---- documents -------------------------------------------------------------------------------


def test_score_document_that_is_not_a_mapping(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project, "- containers\n- metadata\n")
    assert _problems(cli, project) == [
        located("examples/apps/solo/score.yaml", 1, "", "the document must be a mapping", kind="platform")
    ]


def test_resource_definition_document_that_is_not_a_mapping(
    project: Path, cli: Callable[..., Result]
) -> None:
    _solo(project)
    write(project / "platform-config/resources/list.yaml", "- id: x\n  type: y\n")
    assert _problems(cli, project) == [
        located(
            "platform-config/resources/list.yaml", 1, "", "the document must be a mapping", kind="platform"
        )
    ]


def test_second_document_in_a_score_file(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project, SOLO + "---\n" + SOLO)
    (problem,) = _problems(cli, project)
    assert (problem["file"], problem["path"], problem["message"]) == (
        "examples/apps/solo/score.yaml",
        "",
        "one document per file is expected",
    )


def test_second_document_in_an_environment_file(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    env = project / "environments/dev.yaml"
    env.write_text(env.read_text() + "---\nid: again\n")
    (problem,) = _problems(cli, project)
    assert (problem["file"], problem["path"], problem["message"]) == (
        "environments/dev.yaml",
        "",
        "one document per file is expected",
    )


def test_second_document_is_reported_where_it_starts(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project, SOLO + "---\n" + SOLO)
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            SOLO.count("\n") + 2,
            "",
            "one document per file is expected",
            kind="platform",
        )
    ]


def test_second_scalar_document_is_reported_where_it_starts(
    project: Path, cli: Callable[..., Result]
) -> None:
    _solo(project, SOLO + "---\n# a comment\n\njust text\n")
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            SOLO.count("\n") + 4,
            "",
            "the document must be a mapping",
            kind="platform",
        )
    ]


# ---- schemas ---------------------------------------------------------------------------------


def test_target_in_the_map_form_of_files(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project, SOLO + "    files:\n      /etc/a:\n        target: /etc/a\n        content: x\n")
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            8,
            'containers.main.files["/etc/a"]',
            "the 'target' field belongs to the deprecated list form only; use the map key",
            "see the schema score-v1b1",
            kind="spec",
        )
    ]


def test_platform_file_schema_error_names_its_schema(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    edit(project / "environments/dev.yaml", "  region: eu-west-1\n", "")
    assert _problems(cli, project) == [
        located(
            "environments/dev.yaml",
            12,
            "aws",
            "'region' is a required property",
            "see the schema environment",
            kind="platform",
        )
    ]


# ---- app directories -------------------------------------------------------------------------


def test_app_directory_without_score_files(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    empty = project / "examples/apps/empty"
    empty.mkdir()
    assert _problems(cli, project, str(empty)) == [
        located("examples/apps/empty", 0, "", "no score*.yaml files in this app directory", kind="platform")
    ]


def test_workload_name_used_twice_in_one_app(project: Path, cli: Callable[..., Result]) -> None:
    app = _solo(project)
    write(app / "score-copy.yaml", SOLO)
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            3,
            "metadata.name",
            "workload 'solo' is also defined in examples/apps/solo/score-copy.yaml",
            "workload names must be unique within an app",
            kind="platform",
        )
    ]


def test_override_for_an_unknown_workload(project: Path, cli: Callable[..., Result]) -> None:
    app = _solo(project)
    write(app / "overrides/dev/ghost.yaml", "containers:\n  main:\n    variables: {A: b}\n")
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/overrides/dev/ghost.yaml",
            1,
            "",
            "override for unknown workload 'ghost'",
            "workloads in this app: solo",
            kind="platform",
        )
    ]


def test_override_that_renames_its_workload(project: Path, cli: Callable[..., Result]) -> None:
    app = _solo(project)
    write(app / "overrides/dev/solo.yaml", "# dev only\nmetadata:\n  name: other\n")
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/overrides/dev/solo.yaml",
            3,
            "metadata.name",
            "an override cannot rename",
            kind="platform",
        )
    ]


def test_override_that_breaks_the_schema_points_into_the_override(
    project: Path, cli: Callable[..., Result]
) -> None:
    app = _solo(project)
    write(app / "overrides/dev/solo.yaml", "containers:\n  main:\n    image: 7\n")
    assert _problems(cli, project) == [
        located(
            "examples/apps/solo/overrides/dev/solo.yaml",
            3,
            "containers.main.image",
            "7 is not of type 'string'",
            "see the schema score-v1b1",
            kind="spec",
        )
    ]


def test_two_apps_with_one_id(project: Path, cli: Callable[..., Result]) -> None:
    app = _solo(project)
    write(project / "more" / "solo" / "score.yaml", SOLO)
    assert _problems(cli, project, str(app), str(project / "more" / "solo")) == [
        located(
            "more/solo",
            0,
            "",
            "app id 'solo' is given twice: examples/apps/solo and more/solo",
            kind="platform",
        )
    ]


def test_two_apps_with_one_id_outside_the_root(
    project: Path, cli: Callable[..., Result], tmp_path: Path
) -> None:
    """An app folder outside the project root is named by its absolute path, as in every problem."""
    app = _solo(project)
    other = tmp_path / "elsewhere" / "solo"
    write(other / "score.yaml", SOLO)
    assert _problems(cli, project, str(other), str(app)) == [
        located(
            "examples/apps/solo",
            0,
            "",
            f"app id 'solo' is given twice: {other} and examples/apps/solo",
            kind="platform",
        )
    ]


def test_no_project_root(tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(roots, "PACKAGE_ROOT", str(tmp_path))  # as if installed away from a checkout
    result = cli("validate")
    assert result.exit_code == EXIT_USAGE, result.output
    assert (
        result.output == "error: no project root found: pass --root pointing at a platform-config checkout\n"
    )


def test_a_named_root_that_is_not_one(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--root and RENDERER_ROOT are the root or an error, never a fallback to another root."""
    monkeypatch.chdir(ROOT)  # the current directory and the shipped repo both are roots
    result = cli("validate", "--root", str(tmp_path))
    assert result.exit_code == EXIT_USAGE, result.output
    assert (
        result.output
        == f"error: --root {tmp_path} is not a project root: it has no environments/ directory\n"
    )
    monkeypatch.setenv("RENDERER_ROOT", str(tmp_path))
    result = cli("validate")
    assert result.exit_code == EXIT_USAGE, result.output
    assert result.output == (
        f"error: RENDERER_ROOT {tmp_path} is not a project root: it has no environments/ directory\n"
    )


def test_the_shipped_root_when_the_current_directory_is_none(tmp_path: Path) -> None:
    """Outside any checkout, commands use the repo the renderer ships in (a real process, a real cwd)."""
    proc = run_renderer("validate", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


# ---- platform files --------------------------------------------------------------------------


def test_environment_names_a_missing_policy_set(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    edit(project / "environments/dev.yaml", "  baseline: warn\n", "  baseline: warn\n  missing: deny\n")
    assert _problems(cli, project) == [
        located(
            "environments/dev.yaml",
            29,  # after aws.check_role
            "policies.missing",
            "no policy set 'missing' in policies/",
            "known: baseline, gatekeeper, production",
            kind="platform",
        )
    ]


def test_environment_id_differs_from_its_file_name(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    os.rename(project / "environments/dev.yaml", project / "environments/devel.yaml")
    assert _problems(cli, project) == [
        located(
            "environments/devel.yaml", 3, "id", "id 'dev' differs from the file name 'devel'", kind="platform"
        )
    ]


def test_no_environment_definitions(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    for env in (project / "environments").iterdir():
        env.unlink()
    assert _problems(cli, project) == [
        located("environments", 0, "", "no environment definitions found", kind="platform")
    ]


def test_module_that_is_not_json(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(project / "platform-config/modules/s3-bucket/extra.tf.json", '{"variable": {"a": {},}}\n')
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/s3-bucket/extra.tf.json",
            1,
            "",
            "not valid JSON: Expecting property name enclosed in double quotes (column 23)",
            "fix the syntax",
            kind="yaml",
        )
    ]


def test_module_that_is_not_json_on_a_later_line(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(
        project / "platform-config/modules/s3-bucket/extra.tf.json",
        '{\n  "variable": {\n    "a": {},\n  }\n}\n',
    )
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/s3-bucket/extra.tf.json",
            4,
            "",
            "not valid JSON: Expecting property name enclosed in double quotes (column 3)",
            "fix the syntax",
            kind="yaml",
        )
    ]


def test_module_file_whose_top_level_is_not_an_object(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(project / "platform-config/modules/s3-bucket/extra.tf.json", '\n[{"variable": {}}]\n')
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/s3-bucket/extra.tf.json",
            2,
            "",
            "the top level must be a JSON object",
            kind="platform",
        )
    ]


def test_module_variables_that_are_not_an_object(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(
        project / "platform-config/modules/s3-bucket/extra.tf.json",
        '{\n  "output": {},\n  "variable": ["a"]\n}\n',
    )
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/s3-bucket/extra.tf.json",
            3,
            "variable",
            "must be an object: variable name → its block",
            kind="platform",
        )
    ]


def test_modules_folder_with_a_plain_file_or_a_subfolder(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(project / "platform-config/modules/README.md", "# modules\n")
    (project / "platform-config/modules/s3-bucket/nested").mkdir()
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/README.md",
            0,
            "",
            "a module is a folder",
            "put its .tf.json files in a folder",
            kind="platform",
        ),
        located(
            "platform-config/modules/s3-bucket/nested",
            0,
            "",
            "a module holds files only, no folders",
            kind="platform",
        ),
    ]


def test_module_file_that_cannot_be_read(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    (project / "platform-config/modules/s3-bucket/gone.tf.json").symlink_to(project / "nowhere.json")
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/s3-bucket/gone.tf.json",
            0,
            "",
            "this path is or passes through a symbolic link",
            "links are not followed: commit the file itself",
            kind="platform",
        )
    ]


def test_module_written_in_hcl(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(project / "platform-config/modules/s3-bucket/extra.tf", 'variable "a" {}\n')
    assert _problems(cli, project) == [
        located(
            "platform-config/modules/s3-bucket/extra.tf",
            0,
            "",
            "modules are written as .tf.json so their inputs can be checked",
            kind="platform",
        )
    ]


DEFINITION = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: {id}
type: thing
driver: {driver}
{extra}"""


def _definition(project: Path, extra: str, driver: str = "static", id_: str = "thing-one") -> Path:
    path = project / "platform-config/resources/thing.yaml"
    return write(path, DEFINITION.format(id=id_, driver=driver, extra=extra))


def test_definition_uses_an_unknown_type(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    _definition(project, "uses:\n  helper:\n    type: nothing\n")
    assert _problems(cli, project) == [
        located(
            "platform-config/resources/thing.yaml",
            8,
            "uses.helper.type",
            "no resource definition has type 'nothing'",
            kind="platform",
        )
    ]


def test_definition_params_schema_that_is_no_schema(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    _definition(project, "params_schema:\n  type: 12\n")
    (problem,) = _problems(cli, project)
    assert (problem["file"], problem["line"], problem["path"]) == (
        "platform-config/resources/thing.yaml",
        6,
        "params_schema",
    )
    assert problem["message"] == "not a valid JSON Schema: 12 is not valid under any of the given schemas"


def test_terraform_definition_names_an_unknown_module(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    _definition(project, "module:\n  source: nowhere\n", driver="terraform")
    assert _problems(cli, project) == [
        located(
            "platform-config/resources/thing.yaml",
            7,
            "module.source",
            "no module 'nowhere' in platform-config/modules",
            "known: elasticache-redis, postgres-database, rds-instance, s3-bucket",
            kind="platform",
        )
    ]


def test_terraform_definition_leaves_out_a_required_input(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    path = project / "platform-config/resources/s3.yaml"
    edit(path, '    secret_path: "{{ secret_path }}"\n', "")
    assert _problems(cli, project) == [
        located(
            "platform-config/resources/s3.yaml",
            14,
            "module.inputs",
            "module 's3-bucket' requires input 'secret_path'",
            kind="platform",
        )
    ]


def test_definition_id_used_twice(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    _definition(project, "criteria: [{env: dev}]\n", id_="s3-bucket")
    assert _problems(cli, project) == [
        located(
            "platform-config/resources/thing.yaml",
            3,
            "id",
            "id 's3-bucket' is also used in platform-config/resources/s3.yaml",
            kind="platform",
        )
    ]


def test_two_profiles_for_the_same_workloads(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    profiles = project / "platform-config/profiles"
    text = (profiles / "development.yaml").read_text().replace("id: development", "id: dev-copy")
    write(profiles / "dev-copy.yaml", text)
    assert _problems(cli, project) == [
        located(
            "platform-config/profiles/development.yaml",
            5,
            "criteria",
            "profile 'development' matches the same workloads as 'dev-copy'",
            kind="platform",
        )
    ]


# ---- policy sets -----------------------------------------------------------------------------


def test_policy_data_file_that_is_not_json(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(project / "policies/production/data/limits.json", '{"a": 1,}\n')
    assert _problems(cli, project) == [  # the set is still known: prod's use of it is no problem
        located(
            "policies/production/data/limits.json",
            1,
            "",
            "not valid JSON: Expecting property name enclosed in double quotes (column 9)",
            "fix the syntax",
            kind="yaml",
        )
    ]


def test_policy_data_file_that_is_not_yaml(project: Path, cli: Callable[..., Result]) -> None:
    _solo(project)
    write(project / "policies/production/data/limits.yaml", "a: [1\n")
    assert _problems(cli, project) == [
        located(
            "policies/production/data/limits.yaml",
            2,
            "",
            "not valid YAML: did not find expected ',' or ']'",
            "fix the syntax",
            kind="yaml",
        )
    ]


def test_policy_file_that_cannot_be_read(project: Path, cli: Callable[..., Result]) -> None:
    """Named under policies/ as data files are, and the only problem: every environment naming the
    set still finds it."""
    _solo(project)
    (project / "policies/production/odd.rego").write_bytes(b"package odd\n# \xff\n")
    assert _problems(cli, project) == [
        located(
            "policies/production/odd.rego",
            0,
            "",
            "cannot read: 'utf-8' codec can't decode byte 0xff in position 14: invalid start byte",
            kind="platform",
        )
    ]


_LINK = "this path is or passes through a symbolic link"
_NOT_FOLLOWED = "links are not followed: commit the file itself"


def test_policy_files_that_cannot_be_opened(project: Path, cli: Callable[..., Result]) -> None:
    """A platform file that is a link is not followed; every such file of every set is reported in one run."""
    _solo(project)
    (project / "policies/production/gone.rego").symlink_to(project / "nowhere.rego")
    (project / "policies/baseline/gone_test.rego").symlink_to(project / "nowhere.rego")
    assert _problems(cli, project) == [
        located("policies/baseline/gone_test.rego", 0, "", _LINK, _NOT_FOLLOWED, kind="platform"),
        located("policies/production/gone.rego", 0, "", _LINK, _NOT_FOLLOWED, kind="platform"),
    ]
