"""Adapters: the outside world, each behind a small interface (git, GitLab; AWS as it comes).

Used by review and publish alike; nothing below this layer imports them.
"""
