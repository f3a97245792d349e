"""Checks: the rendered tree → findings, before anything is written. Pure.

In: a `render.result.Rendered`. Out: a `findings.Report` (schema problems, policy denials and
warnings); `enforce` raises `PolicyDenied` on any denial. Kubernetes schemas (`kubeschema`),
conftest-compatible Rego on regorus (`rego/`).
"""
