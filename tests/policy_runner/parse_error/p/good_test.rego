package good
import rego.v1
test_ok if true
