# Checks on the developer's Score file itself, before anything is rendered.
package score

import rego.v1

secret_name := `(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)`

deny_literal_secret contains msg if {
	input.apiVersion == "score.dev/v1b1"
	some cname, c in input.containers
	some var, value in c.variables
	regex.match(secret_name, var)
	not contains(value, "${")
	msg := sprintf("workload %s, container %s: %s is a literal; reference a resource's secret output", [input.metadata.name, cname, var])
}

deny_latest contains msg if {
	input.apiVersion == "score.dev/v1b1"
	some cname, c in input.containers
	endswith(c.image, ":latest")
	msg := sprintf("workload %s, container %s: image %s uses :latest", [input.metadata.name, cname, c.image])
}
