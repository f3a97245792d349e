package t
import rego.v1
test_a if true
