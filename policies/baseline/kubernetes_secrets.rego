# Secret-like values never sit in plain text in env vars or ConfigMaps.
package kubernetes

import rego.v1

secret_name := `(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)`

secret_value := `(-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|glpat-[0-9A-Za-z_-]{20})`

deny_plaintext_secret_env contains msg if {
	some c in containers
	some var in c.env
	regex.match(secret_name, var.name)
	var.value
	not regex.match(`^(\$\([A-Z0-9_]+\))+$`, var.value)
	not regex.match(`^(?i)(yes|no|true|false|on|off|[01])$`, var.value)
	msg := sprintf("%s: container %s sets %s as plain text; use a secret reference", [name, c.name, var.name])
}

deny_plaintext_secret_env contains msg if {
	some c in containers
	some var in c.env
	regex.match(secret_value, object.get(var, "value", ""))
	msg := sprintf("%s: container %s has a credential in %s", [name, c.name, var.name])
}

deny_plaintext_secret_configmap contains msg if {
	input.kind == "ConfigMap"
	some key, value in input.data
	regex.match(secret_value, value)
	msg := sprintf("%s: key %s holds a credential; use a Secret", [name, key])
}
