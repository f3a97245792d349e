"""The platform renderer: Score workloads + platform definitions → GitOps environment repo."""

__version__ = "0.2.0"
