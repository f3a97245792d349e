package b
import rego.v1
test_x if true

test_x if false

test_y if true
