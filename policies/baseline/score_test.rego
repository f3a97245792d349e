package score

import rego.v1

workload := {"apiVersion": "score.dev/v1b1", "metadata": {"name": "w"}, "containers": {"main": {"image": "r/x:1", "variables": {"DB_PASSWORD": "${resources.db.password}"}}}}

test_reference_passes if {
	count(deny_literal_secret) == 0 with input as workload
}

test_literal_secret if {
	deny_literal_secret["workload w, container main: DB_PASSWORD is a literal; reference a resource's secret output"] with input as json.patch(workload, [{"op": "replace", "path": "/containers/main/variables/DB_PASSWORD", "value": "hunter2"}])
}

test_latest if {
	count(deny_latest) == 1 with input as json.patch(workload, [{"op": "replace", "path": "/containers/main/image", "value": "r/x:latest"}])
}
