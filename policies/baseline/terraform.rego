# Storage and databases encrypted and private; state encrypted and locked; no literal credentials.
package terraform

import rego.v1

secret_attribute := `(?i)^(password|master_password|auth_token|secret|secret_string|access_key|secret_key)$`

deny_unencrypted_database contains msg if {
	some name, db in input.resource.aws_db_instance
	not db.storage_encrypted == true
	msg := sprintf("aws_db_instance.%s: storage_encrypted must be true", [name])
}

deny_public_database contains msg if {
	some name, db in input.resource.aws_db_instance
	db.publicly_accessible == true
	msg := sprintf("aws_db_instance.%s: must not be publicly accessible", [name])
}

deny_unencrypted_cache contains msg if {
	some name, group in input.resource.aws_elasticache_replication_group
	some field in ["at_rest_encryption_enabled", "transit_encryption_enabled"]
	not group[field] == true
	msg := sprintf("aws_elasticache_replication_group.%s: %s must be true", [name, field])
}

deny_unencrypted_bucket contains msg if {
	some name, _ in input.resource.aws_s3_bucket
	not bucket_encrypted(name)
	msg := sprintf("aws_s3_bucket.%s: needs a server-side encryption configuration", [name])
}

bucket_encrypted(name) if {
	some _, config in input.resource.aws_s3_bucket_server_side_encryption_configuration
	config.bucket == sprintf("${aws_s3_bucket.%s.id}", [name])
}

deny_public_bucket contains msg if {
	some name, _ in input.resource.aws_s3_bucket
	not bucket_blocked(name)
	msg := sprintf("aws_s3_bucket.%s: needs a public access block with every flag true", [name])
}

bucket_blocked(name) if {
	some _, block in input.resource.aws_s3_bucket_public_access_block
	block.bucket == sprintf("${aws_s3_bucket.%s.id}", [name])
	every flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"] {
		block[flag] == true
	}
}

deny_state_unprotected contains msg if {
	backend := input.terraform.backend.s3
	not backend.encrypt == true
	msg := "terraform backend s3: encrypt must be true"
}

deny_state_unprotected contains msg if {
	backend := input.terraform.backend.s3
	not backend.use_lockfile == true
	not backend.dynamodb_table
	msg := "terraform backend s3: state locking (use_lockfile or dynamodb_table) is required"
}

deny_literal_credential contains msg if {
	some type, resources in input.resource
	some name, body in resources
	some attribute, value in body
	regex.match(secret_attribute, attribute)
	is_string(value)
	not contains(value, "${")
	msg := sprintf("%s.%s: %s is a literal; generate it or read it from a secret store", [type, name, attribute])
}

deny_literal_credential contains msg if {
	some name, module in input.module
	some attribute, value in module
	regex.match(secret_attribute, attribute)
	is_string(value)
	not contains(value, "${")
	msg := sprintf("module.%s: input %s is a literal credential", [name, attribute])
}
