# Production, across objects: every replicated developer workload has a PodDisruptionBudget.
package combined.production

import rego.v1

workloads contains doc if {
	some doc in input
	doc.contents.kind in {"Deployment", "StatefulSet"}
	doc.contents.metadata.annotations["renderer.platform/source"]
}

# the budgets of each namespace, built once: a workload looks only at its own namespace's, so the
# rule grows with the number of objects, not with its square
budgets[namespace] contains doc.contents if {
	some doc in input
	doc.contents.kind == "PodDisruptionBudget"
	namespace := doc.contents.metadata.namespace
}

covered(w) if {
	some pdb in budgets[w.metadata.namespace]
	every key, value in pdb.spec.selector.matchLabels {
		w.spec.template.metadata.labels[key] == value
	}
}

deny_missing_disruption_budget contains {"msg": msg, "path": doc.path} if {
	some doc in workloads
	w := doc.contents
	not covered(w)
	msg := sprintf("%s/%s in %s: no PodDisruptionBudget selects its pods", [w.kind, w.metadata.name, w.metadata.namespace])
}
