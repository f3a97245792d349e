package bad
import rego.v1
test_x if { x := }
