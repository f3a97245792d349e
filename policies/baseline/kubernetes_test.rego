package kubernetes

import rego.v1

good := {
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": {"name": "web", "labels": {"app.kubernetes.io/managed-by": "platform-renderer"}},
	"spec": {"template": {
		"metadata": {"labels": {"app.kubernetes.io/name": "web"}},
		"spec": {
			"securityContext": {"runAsNonRoot": true},
			"containers": [{
				"name": "main", "image": "registry.example.com/web:1.2.3",
				"securityContext": {"allowPrivilegeEscalation": false},
				"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
				"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
			}],
		},
	}},
}

registry_data := {"renderer": {"env": {"allowed_registries": ["registry.example.com/"]}}}

with_container(patch) := json.patch(good, [{"op": "add", "path": concat("/", ["/spec/template/spec/containers/0", patch.key]), "value": patch.value}])

with_pod(key, value) := json.patch(good, [{"op": "add", "path": concat("/", ["/spec/template/spec", key]), "value": value}])

test_good_passes if {
	count(deny_privileged | deny_host_namespaces | deny_host_path | deny_run_as_root | deny_privilege_escalation | deny_missing_resources | deny_missing_memory_limit | deny_registry | deny_latest_tag | deny_untagged | deny_plaintext_secret_env | deny_missing_managed_by | deny_missing_name_label) == 0 with input as good with data.renderer as registry_data.renderer
}

test_privileged if {
	deny_privileged["Deployment/web: container main is privileged"] with input as with_container({"key": "securityContext", "value": {"privileged": true, "allowPrivilegeEscalation": false}})
}

test_host_network if {
	deny_host_namespaces["Deployment/web: hostNetwork is not allowed"] with input as with_pod("hostNetwork", true)
}

test_host_path if {
	deny_host_path["Deployment/web: volume logs mounts a hostPath"] with input as with_pod("volumes", [{"name": "logs", "hostPath": {"path": "/var/log"}}])
}

test_run_as_root if {
	deny_run_as_root["Deployment/web: container main may run as root; set runAsNonRoot: true"] with input as with_pod("securityContext", {})
}

test_privilege_escalation if {
	count(deny_privilege_escalation) == 1 with input as with_container({"key": "securityContext", "value": {}})
}

test_missing_resources if {
	deny_missing_resources["Deployment/web: container main sets no cpu request"] with input as with_container({"key": "resources", "value": {"limits": {"memory": "1Gi"}}})
	count(deny_missing_memory_limit) == 0 with input as with_container({"key": "resources", "value": {"limits": {"memory": "1Gi"}}})
}

test_missing_memory_limit if {
	count(deny_missing_memory_limit) == 1 with input as with_container({"key": "resources", "value": {"requests": {"cpu": "1", "memory": "1Gi"}}})
}

test_registry if {
	count(deny_registry) == 1 with input as with_container({"key": "image", "value": "docker.io/evil/web:1"}) with data.renderer as registry_data.renderer
}

test_latest_and_untagged if {
	deny_latest_tag["Deployment/web: image registry.example.com/web:latest uses :latest"] with input as with_container({"key": "image", "value": "registry.example.com/web:latest"})
	deny_untagged["Deployment/web: image registry.example.com:5000/web has no tag or digest"] with input as with_container({"key": "image", "value": "registry.example.com:5000/web"})
	count(deny_untagged) == 0 with input as with_container({"key": "image", "value": "registry.example.com/web@sha256:abc"})
}

test_plaintext_secret_env if {
	count(deny_plaintext_secret_env) == 1 with input as with_container({"key": "env", "value": [{"name": "API_KEY", "value": "hunter2"}]})
	count(deny_plaintext_secret_env) == 0 with input as with_container({"key": "env", "value": [{"name": "USE_PASSWORD", "value": "yes"}]})
	count(deny_plaintext_secret_env) == 0 with input as with_container({"key": "env", "value": [{"name": "DB_PASSWORD", "value": "$(SECRET_AB12)"}]})
	count(deny_plaintext_secret_env) == 1 with input as with_container({"key": "env", "value": [{"name": "X", "value": "AKIAABCDEFGHIJKLMNOP"}]})
}

test_plaintext_secret_configmap if {
	count(deny_plaintext_secret_configmap) == 1 with input as {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"key.pem": "-----BEGIN RSA PRIVATE KEY-----"}}
}

# Values that are not strings (a schema error, reported by the schema check) are passed over.
test_plaintext_secret_non_string_values if {
	count(deny_plaintext_secret_configmap) == 0 with input as {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"retries": 3}}
	count(deny_plaintext_secret_env) == 0 with input as with_container({"key": "env", "value": [{"name": "DB_PASSWORD", "value": 3}]})
}

test_labels if {
	count(deny_missing_managed_by) == 1 with input as json.patch(good, [{"op": "remove", "path": "/metadata/labels"}])
	count(deny_missing_name_label) == 1 with input as json.patch(good, [{"op": "remove", "path": "/spec/template/metadata/labels"}])
}
