package production

import rego.v1

test_single_replica if {
	count(deny_single_replica) == 1 with input as {"kind": "Deployment", "metadata": {"name": "w", "annotations": {"renderer.platform/source": "a/score.yaml"}}, "spec": {"replicas": 1}}
	count(deny_single_replica) == 0 with input as {"kind": "Deployment", "metadata": {"name": "w", "annotations": {"renderer.platform/source": "a/score.yaml"}}, "spec": {"replicas": 3}}
	count(deny_single_replica) == 0 with input as {"kind": "StatefulSet", "metadata": {"name": "platform-db"}, "spec": {"replicas": 1}}
}

test_autoscaled_workload_uses_the_autoscaler_minimum if {
	count(deny_single_replica) == 0 with input as {"kind": "Deployment", "metadata": {"name": "w", "annotations": {"renderer.platform/source": "a/score.yaml", "renderer.platform/autoscaled-by": "HorizontalPodAutoscaler/w"}}, "spec": {}}
	count(deny_single_replica) == 1 with input as {"kind": "Deployment", "metadata": {"name": "w", "annotations": {"renderer.platform/source": "a/score.yaml"}}, "spec": {}}
	count(deny_single_replica) == 1 with input as {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "w"}, "spec": {"minReplicas": 1}}
	count(deny_single_replica) == 0 with input as {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "w"}, "spec": {"minReplicas": 2}}
}
