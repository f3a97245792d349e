# Production: developer workloads run at least two replicas, at the autoscaler's minimum too.
package production

import rego.v1

deny_single_replica contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	input.metadata.annotations["renderer.platform/source"]
	not input.metadata.annotations["renderer.platform/autoscaled-by"]
	object.get(input.spec, "replicas", 1) < 2
	msg := sprintf("%s/%s: production needs at least 2 replicas", [input.kind, input.metadata.name])
}

# The renderer leaves `replicas` to the autoscaler that owns it: its minimum is the floor.
deny_single_replica contains msg if {
	input.kind == "HorizontalPodAutoscaler"
	object.get(input.spec, "minReplicas", 1) < 2
	msg := sprintf("HorizontalPodAutoscaler/%s: production needs minReplicas of at least 2", [input.metadata.name])
}
