"""Inputs: files on disk → the validated model.

In: app directories (Score files, overrides, file sources) and the platform root (environments,
platform-config, policies). Out: frozen `renderer.model` values (`App`, `Platform`) or one
`InputError` carrying every problem with file, YAML path and line. The only stage that reads files.
"""
