# Every object says who manages it; every workload's pods say what they are.
package kubernetes

import rego.v1

deny_missing_managed_by contains msg if {
	input.apiVersion
	input.kind
	not input.metadata.labels["app.kubernetes.io/managed-by"]
	msg := sprintf("%s: label app.kubernetes.io/managed-by is required", [name])
}

deny_missing_name_label contains msg if {
	pod_spec
	not input.spec.template.metadata.labels["app.kubernetes.io/name"]
	msg := sprintf("%s: pod label app.kubernetes.io/name is required", [name])
}
