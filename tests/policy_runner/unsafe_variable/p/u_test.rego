package u
import rego.v1
test_x if { y == 1 }
