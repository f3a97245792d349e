"""The check stage: Kubernetes schemas and conftest-compatible Rego policies."""
