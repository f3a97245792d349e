# Images come from the environment's allowed registries, pinned: never :latest, never untagged.
package kubernetes

import rego.v1

deny_registry contains msg if {
	some c in containers
	not allowed_registry(c.image)
	msg := sprintf("%s: image %s is not from an allowed registry (%s)", [name, c.image, concat(", ", data.renderer.env.allowed_registries)])
}

allowed_registry(_) if count(object.get(data, ["renderer", "env", "allowed_registries"], [])) == 0

allowed_registry(image) if {
	some prefix in data.renderer.env.allowed_registries
	startswith(image, prefix)
}

deny_latest_tag contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("%s: image %s uses :latest", [name, c.image])
}

deny_untagged contains msg if {
	some c in containers
	not pinned(c.image)
	msg := sprintf("%s: image %s has no tag or digest", [name, c.image])
}

pinned(image) if contains(image, "@sha256:")

pinned(image) if {
	parts := split(image, "/")
	contains(parts[count(parts) - 1], ":")
}
