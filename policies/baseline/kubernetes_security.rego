# No privileged containers, host namespaces or hostPath; non-root without privilege escalation.
package kubernetes

import rego.v1

deny_privileged contains msg if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %s is privileged", [name, c.name])
}

deny_host_namespaces contains msg if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec[field] == true
	msg := sprintf("%s: %s is not allowed", [name, field])
}

deny_host_path contains msg if {
	some volume in pod_spec.volumes
	volume.hostPath
	msg := sprintf("%s: volume %s mounts a hostPath", [name, volume.name])
}

deny_run_as_root contains msg if {
	some c in containers
	not runs_as_non_root(c)
	msg := sprintf("%s: container %s may run as root; set runAsNonRoot: true", [name, c.name])
}

runs_as_non_root(c) if c.securityContext.runAsNonRoot == true

runs_as_non_root(c) if {
	pod_spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}

deny_privilege_escalation contains msg if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s: container %s must set allowPrivilegeEscalation: false", [name, c.name])
}
