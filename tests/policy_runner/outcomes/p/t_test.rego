package t
import rego.v1

allow if input.user == "admin"

test_true if allow with input as {"user": "admin"}

test_false if 1 == 2

test_undefined if input.nothing

test_not_boolean := 5

test_partial_set contains 1 if true

test_cases[name] := ok if {
  some name, ok in {"a": true, "b": true}
}

test_cases_one_false[name] := ok if {
  some name, ok in {"a": true, "b": false}
}

test_divide_by_zero if {
  x := 1 / 0
  x > 0
}

todo_test_later if false

test_with_input if not allow with input as {"user": "guest"}
