"""Rego: the engine behind a small interface (`engine`) and conftest's semantics on top (`policyset`)."""
