package d
import rego.v1
test_x if input.missing
