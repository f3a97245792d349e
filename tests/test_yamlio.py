from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.data import format_path
from renderer.errors import InputError
from renderer.inputs import yamlio
from renderer.inputs.yamlio import YamlLoadError, dump, json_line, load_json, load_text


def test_yaml_12_keeps_yes_and_on_as_strings() -> None:
    doc = load_text("a: yes\nb: on\nc: off\nd: 0o17\ne: 1e3\n", "f.yaml")[0]
    assert doc.data == {"a": "yes", "b": "on", "c": "off", "d": 15, "e": 1000.0}


def test_line_numbers_for_keys_and_items() -> None:
    doc = load_text("x:\n  y:\n    - one\n    - two\n", "f.yaml")[0]
    assert doc.line(["x", "y", 1]) == 4
    assert doc.line(["x", "y", 7, "deeper"]) == 2  # nearest known ancestor: x.y


def test_each_document_starts_at_its_own_line() -> None:
    docs = load_text("a: 1\n---\n# c\n\nhello\n---\n- x\n--- |\n  block\n---\n---\n5\n", "f.yaml")
    assert [(d.data, d.line([])) for d in docs] == [
        ({"a": 1}, 1),
        ("hello", 5),
        (["x"], 7),
        ("block\n", 8),
        (5, 12),  # the empty document before it is skipped, not miscounted
    ]


def test_json_errors_name_the_line() -> None:
    with pytest.raises(InputError) as err:
        load_json('{\n  "a": 1,\n}', "f.json")
    assert [p.render() for p in err.value.problems()] == [
        "yaml: f.json:3: not valid JSON: Expecting property name enclosed in double quotes (column 1) "
        "(fix the syntax)"
    ]
    with pytest.raises(InputError) as err:
        load_json(b'{"a": "\xff"}', "f.json")
    assert [p.render() for p in err.value.problems()] == ["yaml: f.json: not UTF-8 text (save as UTF-8)"]


def test_json_line_of_a_key() -> None:
    assert json_line(b'{\n  "x": 1,\n  "variable": [1]\n}', "f.json", ("variable",)) == 3
    assert json_line('{"a": 1, "a": 2}', "f.json", ("a",)) == 0  # JSON takes it, we do not: unknown


def test_duplicate_key_is_an_error_with_line() -> None:
    with pytest.raises(YamlLoadError) as err:
        load_text("a: 1\nb: 2\na: 3\n", "dup.yaml")
    assert err.value.problems()[0].render() == (
        "yaml: dup.yaml:3 at a: duplicate key 'a' (first on line 1) (keep one of the keys)"
    )


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(YamlLoadError) as err:
        load_text("a: [1, 2\nb: 3\n", "bad.yaml")
    assert err.value.problems()[0].file == "bad.yaml" and err.value.problems()[0].line >= 2
    assert "not valid YAML" in err.value.problems()[0].message


@pytest.mark.parametrize(
    "value",
    [
        "0000000000009e37",
        "yes",
        "on",
        "NO",
        "1_000",
        "0x1F",
        "1.5",
        "null",
        "~",
        "2024-01-01",
        "",
        "12:30",
    ],
)
def test_dump_quotes_strings_a_reader_could_misread(value: str) -> None:
    text = dump({"k": value})
    assert text == f'k: "{value}"\n'
    assert yaml.safe_load(text) == {"k": value}


def test_dump_is_sorted_block_style_without_anchors() -> None:
    shared = {"a": 1}
    text = dump({"z": shared, "b": shared, "m": "line1\nline2\n"})
    assert "&" not in text and "*" not in text
    assert text.index("b:") < text.index("m:") < text.index("z:")
    assert "m: |\n  line1\n  line2\n" in text


def test_a_string_an_indicator_keeps_from_plain_is_single_quoted_without_pyyaml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """atlantis.yaml's `*.tf.json` in every project: written directly, as PyYAML writes it."""
    doc = {"when_modified": ["*.tf.json", "../modules/x/**/*.tf.json", "@it's", "`x`"], "&k": "!v"}
    expected = yaml.dump(
        doc, Dumper=yamlio._Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=4096
    )
    monkeypatch.setattr(yamlio, "_node", lambda *a: pytest.fail("fell back to PyYAML"))
    assert dump(doc) == expected
    assert "- '*.tf.json'\n" in expected and "- '@it''s'\n" in expected


def test_format_path_quotes_odd_keys() -> None:
    assert (
        format_path(["containers", "web", "files", "/etc/a.conf", "mode"])
        == 'containers.web.files["/etc/a.conf"].mode'
    )
    assert format_path(["args", 0]) == "args[0]"


HINT = "make it smaller; the platform team sets limits.{} in platform-config/trust.yaml"


def test_an_alias_bomb_is_refused_not_expanded() -> None:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    with pytest.raises(YamlLoadError) as err:
        load_text("\n".join(lines) + "\n", "bomb.yaml")
    problem = err.value.problems()[0]
    assert problem.file == "bomb.yaml" and problem.path.startswith("x5")
    assert problem.message == (
        "the file expands to more than 200000 values; each use of an alias counts (limits.yaml_nodes)"
    )
    assert problem.hint == HINT.format("yaml_nodes")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(YamlLoadError) as err:
        load_text("a: " + "[" * 70 + "]" * 70 + "\n", "deep.yaml")
    assert (
        err.value.problems()[0].message
        == "the document is nested more than 64 levels deep (limits.yaml_depth)"
    )
    with pytest.raises(YamlLoadError) as err:
        load_text("a: " + "[" * 3000 + "]" * 3000 + "\n", "deeper.yaml")
    assert err.value.problems()[0].render() == (
        "yaml: deeper.yaml:1: the document is nested more than 64 levels deep (limits.yaml_depth) "
        f"({HINT.format('yaml_depth')})"
    )


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("a: !foo 1Gi\n", "a", "the tag !foo is not read: only YAML's standard tags are"),
        ("a: !!binary QUtJQQ==\n", "a", "the tag !!binary is not read: only YAML's standard tags are"),
        ("a: !!set {x, y}\n", "a", "the tag !!set is not read: only YAML's standard tags are"),
        ("a: !!str {x: y}\n", "a", "the tag !!str is not read: only YAML's standard tags are"),
        (
            "a: !!python/object:os.system {}\n",
            "a",
            "the tag !!python/object:os.system is not read: only YAML's standard tags are",
        ),
        ('a: "x\\0y"\n', "a", "holds a NUL character"),
        ("? [a, b]\n: x\n", "", "a key must be a plain value, not a mapping or list"),
        ("a: !!int x\n", "a", "'x' does not read as !!int"),
        ("a:\n  <<: {k: v}\n", "a", "merge keys (<<:) are not read: write the keys out"),
    ],
)
def test_only_plain_data_leaves_the_reader(text: str, path: str, message: str) -> None:
    with pytest.raises(YamlLoadError) as err:
        load_text(text, "odd.yaml")
    problem = err.value.problems()[0]
    assert (problem.file, problem.path, problem.message) == ("odd.yaml", path, message)


def test_an_integer_past_pythons_limit_is_an_input_problem() -> None:
    with pytest.raises(YamlLoadError) as err:
        load_text("a: " + "9" * 5000 + "\n", "big.yaml")
    assert err.value.problems()[0].message == "a number of 5000 digits is too long to read"
    assert err.value.problems()[0].path == "a"


# ---- what a hostile review found (each was a crash, a hang or a leak before) ----------------


@pytest.mark.parametrize(
    "text", ["a: 0x" + "f" * 5000 + "\n", "a: 0o" + "7" * 6000 + "\n", "? 0x" + "f" * 5000 + "\n: a\n"]
)
def test_a_long_hex_or_octal_number_is_refused_where_it_is(text: str) -> None:
    with pytest.raises(YamlLoadError) as err:
        load_text(text, "big.yaml")
    (problem,) = err.value.problems()
    assert (problem.line, problem.message) == (
        1,
        f"a number of {len(text.split()[1])} digits is too long to read",
    )


def test_a_hex_number_read_is_one_its_decimal_form_can_be_read_back() -> None:
    """Found by the fuzzer: 0x and 90 hex digits fit the limit, and are written out (dump) as 107
    decimal digits, which the reader refused. The limit holds for the decimal form too."""
    with pytest.raises(YamlLoadError) as err:
        load_text("n: 0x1" + "D" * 87 + "F\n", "big.yaml")
    assert err.value.problems()[0].message == "a number of 107 digits is too long to read"
    fits = load_text("n: 0x" + "f" * 80 + "\n", "ok.yaml")[0].data
    assert load_text(dump(fits), "again.yaml")[0].data == fits


def test_the_value_budget_is_the_files_not_each_documents() -> None:
    """Many documents each under the budget, together far over it: refused (it grew past 1.7 GB)."""
    doc = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"
    with pytest.raises(YamlLoadError) as err:
        load_text("---\n".join([doc] * 30), "many.yaml")
    assert "the file expands to more than 200000 values" in err.value.problems()[0].message


def test_aliases_of_a_long_string_count_its_bytes() -> None:
    text = "a: [&s " + "A" * 100_000 + ", " + ", ".join(["*s"] * 60) + "]\n"
    with pytest.raises(YamlLoadError) as err:
        load_text(text, "s.yaml")
    problem = err.value.problems()[0]
    assert problem.message == (
        "the file's strings expand to more than 4194304 bytes; each use of an alias counts "
        "(limits.yaml_bytes)"
    )
    assert problem.path == "a[41]"


def test_keys_are_their_text() -> None:
    (doc,) = load_text(".nan: a\n1e3: b\n0x1F: c\ntrue: d\n1e400: e\n", "k.yaml")
    assert doc.data == {".nan": "a", "1e3": "b", "0x1F": "c", "true": "d", "1e400": "e"}


@pytest.mark.parametrize("value", [".nan", ".NaN", "-.inf", "+.Inf", "1e400", "-1e999", "!!float .nan"])
def test_numbers_json_cannot_hold_are_refused_where_they_stand(value: str) -> None:
    """A Score file's `.nan` reached the policy engine, which cannot take it, as an internal error:
    it is an input error at its line and path, and quoted it is the string it reads as."""
    with pytest.raises(YamlLoadError) as err:
        load_text(f"params:\n  size: small\n  extra: [1, {value}]\n", "score.yaml")
    (problem,) = err.value.problems()
    assert (problem.file, problem.line, problem.path, problem.kind) == (
        "score.yaml",
        3,
        "params.extra[1]",
        "yaml",
    )
    assert "a number JSON cannot hold" in problem.message and problem.hint == "quote it for a string"
    (doc,) = load_text(f'v: "{value}"\n', "score.yaml")
    assert doc.data == {"v": value}


def test_a_key_s_number_brought_back_as_a_value_is_refused_too() -> None:
    """A key is its text, but an anchor on it keeps the number YAML read: as a value, an alias to
    it is refused like the number written there."""
    with pytest.raises(YamlLoadError) as err:
        load_text("params:\n  &n .nan : unused\n  size: [*n]\n", "score.yaml")
    (problem,) = err.value.problems()
    assert (problem.line, problem.path) == (3, "params.size[0]") and "JSON cannot hold" in problem.message
    (doc,) = load_text("&k name : 1\nother: *k\n", "k.yaml")
    assert doc.data == {"name": 1, "other": "name"}


@pytest.mark.parametrize("text", ['{"a": NaN}', "[1, Infinity]", "-Infinity"])
def test_json_constants_json_has_not_are_refused(text: str) -> None:
    with pytest.raises(YamlLoadError, match="is not a JSON number"):
        load_json(text, "data.json")


@pytest.mark.parametrize("value", ["+0o17", "-0o17", "-_1", "+_1_", "-_0x1f", "1_000", "0b101"])
def test_strings_go_yaml_reads_as_numbers_are_quoted(value: str) -> None:
    assert dump({"v": value}) == f'v: "{value}"\n'


_NAN = object()  # not a number: equal to nothing, itself included


def _core_schema(text: str) -> object:
    """YAML 1.2's core schema for a plain scalar, written out rule by rule (the reference)."""
    import re

    if re.fullmatch(r"|~|null|Null|NULL", text):
        return None
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return text.lower() == "true"
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"0o[0-7]+|0x[0-9a-fA-F]+", text):
        return int(text[2:], 8 if text[1] == "o" else 16)
    if re.fullmatch(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", text):
        return float(text)
    if re.fullmatch(r"[-+]?\.(inf|Inf|INF)", text):
        return float("-inf") if text.startswith("-") else float("inf")
    if re.fullmatch(r"\.(nan|NaN|NAN)", text):
        return _NAN
    return text


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(
            ["~", "null", "Null", "TRUE", "false", "0o17", "0x1F", "-1.5e3", ".inf", "-.Inf", ".NaN"]
        ),
        st.builds(
            lambda a, b: a + b, st.sampled_from(list("~nNtTfF-+.0123456789aZ_é ")), st.text(max_size=6)
        ),
    )
)
def test_a_plain_scalar_reads_as_the_core_schema_says(text: str) -> None:
    """The reader's shortcut (a first character no null, boolean or number starts with: text)
    gives what the schema's rules give, for any text."""
    got = yamlio._plain_scalar(text)
    want = _core_schema(text)
    if want is _NAN:
        assert isinstance(got, float) and got != got
    else:
        assert got == want and type(got) is type(want)
