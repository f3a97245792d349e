package combined.production

import rego.v1

fixture_deployment := {"path": "d.yaml", "contents": {"kind": "Deployment", "metadata": {"name": "w", "namespace": "n", "annotations": {"renderer.platform/source": "a/score.yaml"}}, "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "w", "tier": "x"}}}}}}

fixture_pdb := {"path": "p.yaml", "contents": {"kind": "PodDisruptionBudget", "metadata": {"name": "w", "namespace": "n"}, "spec": {"selector": {"matchLabels": {"app": "w"}}}}}

test_covered if {
	count(deny_missing_disruption_budget) == 0 with input as [fixture_deployment, fixture_pdb]
}

test_missing if {
	deny_missing_disruption_budget[{"msg": "Deployment/w in n: no PodDisruptionBudget selects its pods", "path": "d.yaml"}] with input as [fixture_deployment]
}

test_other_namespace_does_not_count if {
	count(deny_missing_disruption_budget) == 1 with input as [fixture_deployment, json.patch(fixture_pdb, [{"op": "replace", "path": "/contents/metadata/namespace", "value": "m"}])]
}
