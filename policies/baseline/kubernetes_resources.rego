# Every container states what it needs: cpu and memory requested (or limited), memory limited.
package kubernetes

import rego.v1

deny_missing_resources contains msg if {
	some c in containers
	some resource in ["cpu", "memory"]
	not c.resources.requests[resource]
	not c.resources.limits[resource]
	msg := sprintf("%s: container %s sets no %s request", [name, c.name, resource])
}

deny_missing_memory_limit contains msg if {
	some c in containers
	not c.resources.limits.memory
	msg := sprintf("%s: container %s sets no memory limit", [name, c.name])
}
