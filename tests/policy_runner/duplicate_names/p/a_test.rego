package d
import rego.v1
test_x if true

test_x if false

test_x if 2 > 1

test_y if true
