"""The fast schema answers never say yes where jsonschema says no: `schema.meta_valid_fast` (a
resource definition's `params_schema` against the 2020-12 meta-schema) and
`schema.valid_fast_against` (a constraint's parameters against its template's schema), whatever
the schema. Only their yes is trusted; a no goes to jsonschema, which decides and words it."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from renderer.data import Json
from renderer.inputs import schema

# keyword values picked to hit the places the two libraries read differently: regular expressions
# only one of them compiles, `\s`, formatted keywords (URIs), types and numbers out of range
REGEX = st.sampled_from(["^[a-z]+$", "(?<", "\\p{L}", "[^\\s]+", "\\d{2}", "a$", "(?P<n>x)", "["])
VALUE = st.sampled_from([0, 1, -1, 2.5, "x", "", None, True, [], {}, "a b", "http://x/y"])
TYPE = st.sampled_from(["string", "integer", "number", "object", "array", "boolean", "null", "strng"])


def _keywords(inner: st.SearchStrategy[Json]) -> st.SearchStrategy[dict[str, Json]]:
    one = st.one_of(
        st.tuples(st.just("type"), st.one_of(TYPE, st.lists(TYPE, max_size=2))),
        st.tuples(st.just("pattern"), REGEX),
        st.tuples(st.just("patternProperties"), st.dictionaries(REGEX, inner, max_size=2)),
        st.tuples(
            st.just("properties"),
            st.dictionaries(st.sampled_from(["a", "pattern", "$ref"]), inner, max_size=2),
        ),
        st.tuples(st.sampled_from(["minLength", "maxItems", "minimum", "multipleOf"]), VALUE),
        st.tuples(st.sampled_from(["enum", "required"]), st.lists(VALUE, max_size=3)),
        st.tuples(
            st.sampled_from(["const", "default"]),
            st.one_of(VALUE, st.dictionaries(st.just("pattern"), REGEX)),
        ),
        st.tuples(st.sampled_from(["$ref", "$id", "$schema", "$anchor"]), VALUE),
        st.tuples(st.sampled_from(["items", "not", "additionalProperties"]), inner),
        st.tuples(st.sampled_from(["allOf", "anyOf", "oneOf"]), st.lists(inner, max_size=2)),
    )
    return st.lists(one, max_size=4).map(dict)


SCHEMA = st.recursive(st.booleans() | st.just({}), _keywords, max_leaves=8)
DATA = st.recursive(
    VALUE,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=6,
)


def _meta_valid(value: Json) -> bool:
    try:
        Draft202012Validator.check_schema(value)  # type: ignore[arg-type]
    except SchemaError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(value=SCHEMA)
def test_a_fast_yes_to_a_schema_is_jsonschema_s_yes(value: Json) -> None:
    if schema.meta_valid_fast(value):
        assert _meta_valid(value), value


@settings(max_examples=600, deadline=None)
@given(value=SCHEMA, data=DATA)
def test_a_fast_yes_to_parameters_is_jsonschema_s_yes(value: Json, data: Json) -> None:
    if isinstance(value, dict) and _meta_valid(value) and schema.valid_fast_against(value, data):
        try:
            errors = list(schema.compile_schema(value).iter_errors(data))
        except RecursionError:  # a `$ref` to itself: the reference recurses where jsonschema-rs does not
            assume(False)
        assert errors == [], (value, data)


def test_the_fast_answers_say_yes_to_plain_schemas_and_leave_the_rest_to_jsonschema() -> None:
    plain = {
        "type": "object",
        "properties": {"port": {"type": "integer", "minimum": 1}},
        "required": ["port"],
    }
    assert schema.meta_valid_fast(plain)
    assert schema.valid_fast_against(plain, {"port": 80})
    assert not schema.valid_fast_against(plain, {"port": 0})
    # what jsonschema alone checks: formats of URIs, regular expressions as Python reads them
    assert not schema.meta_valid_fast({"$ref": "#/$defs/a b"})
    assert not schema.meta_valid_fast({"pattern": "\\p{L}"}) and not _meta_valid({"pattern": "\\p{L}"})
    assert not schema.meta_valid_fast({"patternProperties": {"(?<": {}}})
    assert not schema.meta_valid_fast({"type": "strng"}) and not _meta_valid({"type": "strng"})
    # where jsonschema-rs could be the more lenient: `\s` in a pattern, `multipleOf`
    assert not schema.valid_fast_against({"pattern": "^[^\\s]+$"}, "a\x1cb")
    assert not schema.valid_fast_against({"multipleOf": 0.01}, 0.07)
