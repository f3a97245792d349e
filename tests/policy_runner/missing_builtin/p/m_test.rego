package m
import rego.v1
test_cert if crypto.x509.parse_and_verify_certificates("x")

test_fine if true
