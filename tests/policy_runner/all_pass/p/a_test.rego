package a
import rego.v1
test_one if true

test_two if 1 < 2
