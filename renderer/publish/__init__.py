"""Publish: a rendered tree → files and commits. The writer owns paths; delivery commits and pushes.

In: the platform, apps, a `delivery.Request`. Out: `delivery.Outcome` per branch, or `PublishError`.
"""
