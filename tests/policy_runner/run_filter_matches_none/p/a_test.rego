package a
import rego.v1
test_y if true
