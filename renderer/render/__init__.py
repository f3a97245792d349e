"""Render: the resolved graph → the environment-repo tree (path → bytes). Pure.

In: workloads, their profiles and resolved resources. Out: Kubernetes objects (one module per
object kind in `kubernetes/`), Terraform projects (`terraform`), laid out as files (`tree`).
"""
