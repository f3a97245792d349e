package terraform

import rego.v1

bucket := {"resource": {
	"aws_s3_bucket": {"this": {"bucket": "b"}},
	"aws_s3_bucket_server_side_encryption_configuration": {"this": {"bucket": "${aws_s3_bucket.this.id}"}},
	"aws_s3_bucket_public_access_block": {"this": {"bucket": "${aws_s3_bucket.this.id}", "block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}},
}}

test_bucket_passes if {
	count(deny_unencrypted_bucket | deny_public_bucket) == 0 with input as bucket
}

test_bucket_unencrypted if {
	deny_unencrypted_bucket["aws_s3_bucket.this: needs a server-side encryption configuration"] with input as json.patch(bucket, [{"op": "remove", "path": "/resource/aws_s3_bucket_server_side_encryption_configuration"}])
}

test_bucket_public if {
	count(deny_public_bucket) == 1 with input as json.patch(bucket, [{"op": "replace", "path": "/resource/aws_s3_bucket_public_access_block/this/block_public_policy", "value": false}])
}

test_database if {
	db := {"resource": {"aws_db_instance": {"main": {"storage_encrypted": false, "publicly_accessible": true}}}}
	deny_unencrypted_database["aws_db_instance.main: storage_encrypted must be true"] with input as db
	deny_public_database["aws_db_instance.main: must not be publicly accessible"] with input as db
}

test_cache if {
	count(deny_unencrypted_cache) == 2 with input as {"resource": {"aws_elasticache_replication_group": {"r": {}}}}
}

test_state if {
	count(deny_state_unprotected) == 2 with input as {"terraform": {"backend": {"s3": {"bucket": "b"}}}}
	count(deny_state_unprotected) == 0 with input as {"terraform": {"backend": {"s3": {"encrypt": true, "use_lockfile": true}}}}
}

test_literal_credential if {
	count(deny_literal_credential) == 1 with input as {"resource": {"aws_db_instance": {"m": {"password": "hunter2"}}}}
	count(deny_literal_credential) == 0 with input as {"resource": {"aws_db_instance": {"m": {"password": "${random_password.m.result}"}}}}
	count(deny_literal_credential) == 1 with input as {"module": {"db": {"master_password": "hunter2"}}}
}
