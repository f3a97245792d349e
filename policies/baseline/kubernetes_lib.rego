# Helpers shared by the baseline's Kubernetes rules.
package kubernetes

import rego.v1

pod_kinds := {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}

pod_spec := input.spec.template.spec if input.kind in pod_kinds

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

pod_spec := input.spec if input.kind == "Pod"

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

name := sprintf("%s/%s", [input.kind, input.metadata.name])

# objects written from a developer's Score file (not the platform's own resources)
from_score if input.metadata.annotations["renderer.platform/source"]
