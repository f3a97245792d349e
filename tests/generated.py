"""Generated apps for the tests of many apps (tests/scale, tests/shards): one small web workload each."""

from __future__ import annotations

SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  main:
    image: ghcr.io/example/{app}:1.0.0
    resources:
      limits: {{cpu: 200m, memory: 128Mi}}
service:
  ports:
    http: {{port: 8080}}
"""
