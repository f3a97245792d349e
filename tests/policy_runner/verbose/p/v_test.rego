package v
import rego.v1
test_a if true

test_b if false

todo_test_c if true
