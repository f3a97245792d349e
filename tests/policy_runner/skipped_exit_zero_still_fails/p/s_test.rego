package s
import rego.v1
todo_test_x if false

test_y if false
