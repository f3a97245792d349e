package j
import rego.v1
test_pass if true

test_fail if false

todo_test_skip if true

test_error if { 1 / 0 }
