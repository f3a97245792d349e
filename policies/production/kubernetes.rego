# Production: developer workloads run at least two replicas.
package production

import rego.v1

deny_single_replica contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	input.metadata.annotations["renderer.platform/source"]
	object.get(input.spec, "replicas", 1) < 2
	msg := sprintf("%s/%s: production needs at least 2 replicas", [input.kind, input.metadata.name])
}
