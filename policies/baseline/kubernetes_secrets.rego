# Secret-like values never sit in plain text in env vars or ConfigMaps.
# Values that are not strings are the schema check's to report: these rules pass over them
# (is_string first), as regex.match would stop the whole evaluation on them.
package kubernetes

import rego.v1

secret_name := `(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)`

secret_value := `(-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|glpat-[0-9A-Za-z_-]{20})`

deny_plaintext_secret_env contains msg if {
	some c in containers
	some var in c.env
	regex.match(secret_name, var.name)
	is_string(var.value)
	not regex.match(`^(\$\([A-Z0-9_]+\))+$`, var.value)
	not regex.match(`^(?i)(yes|no|true|false|on|off|[01])$`, var.value)
	msg := sprintf("%s: container %s sets %s as plain text; use a secret reference", [name, c.name, var.name])
}

deny_plaintext_secret_env contains msg if {
	some c in containers
	some var in c.env
	value := object.get(var, "value", "")
	is_string(value)
	regex.match(secret_value, value)
	msg := sprintf("%s: container %s has a credential in %s", [name, c.name, var.name])
}

deny_plaintext_secret_configmap contains msg if {
	input.kind == "ConfigMap"
	some key, value in input.data
	is_string(value)
	regex.match(secret_value, value)
	msg := sprintf("%s: key %s holds a credential; use a Secret", [name, key])
}
