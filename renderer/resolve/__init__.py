"""Resolve: the model → a resolved resource graph, per environment. Pure.

In: an `Environment`, the workloads, the platform's definitions. Out: a `graph.Graph` (nodes,
edges, a deterministic order) and, per node, `nodes.Resolved` (params, outputs, secret references,
the driver's artifacts). Matching explains itself; templates are sandboxed; drivers are a registry.
"""
