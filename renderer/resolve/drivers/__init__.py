"""Resource drivers, by the name a definition's `driver:` gives: a plain registry.

A new driver is a module here with a class that has `render(definition, context) -> Artifacts`
(`base.Driver`), and one line below.
"""

from __future__ import annotations

from renderer.resolve.drivers.base import Driver
from renderer.resolve.drivers.manifests import KubernetesDriver
from renderer.resolve.drivers.module import TerraformDriver
from renderer.resolve.drivers.static import StaticDriver

DRIVERS: dict[str, Driver] = {
    "kubernetes": KubernetesDriver(),
    "terraform": TerraformDriver(),
    "static": StaticDriver(),
}
