package r
import rego.v1

test_top if data.top.name == "t"

test_nested_yaml if data.sub.inner.limit == 3

test_nested_json if data.other.list == [1, 2]
