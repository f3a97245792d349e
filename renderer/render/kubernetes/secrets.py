"""Secret references → one ExternalSecret per workload (External Secrets Operator) and its selectors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from renderer.data import Json, KubeObject
from renderer.inputs.placeholders import Segment
from renderer.model import SecretRef

SECRET_STORE = "aws-secrets-manager"


@dataclass(slots=True)
class SecretSink:
    """Secret references a workload uses; they become one ExternalSecret and Secret."""

    secret_name: str
    data: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (path, property)
    templates: dict[str, str] = field(default_factory=dict)  # key → ESO template text

    def key_for(self, ref: SecretRef) -> str:
        key = f"{ref.path.rsplit('/', 2)[-2]}-{ref.path.rsplit('/', 1)[-1]}.{ref.key}"
        key = re.sub(r"[^-._a-zA-Z0-9]", "-", key)
        self.data[key] = (ref.path, ref.key)
        return key

    def selector(self, ref: SecretRef) -> dict[str, str]:
        if ref.secret:
            return {"name": ref.secret, "key": ref.key}
        return {"name": self.secret_name, "key": self.key_for(ref)}


def external_secret(meta: Mapping[str, Json], sink: SecretSink) -> KubeObject:
    target: dict[str, Json] = {"name": sink.secret_name, "creationPolicy": "Owner"}
    if sink.templates:
        # With a template, ESO writes only templated keys: carry plain keys through as well.
        data = {k: go_index(k) for k in sorted(sink.data)}
        data.update(sink.templates)
        target["template"] = {"engineVersion": "v2", "data": data}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {**meta, "name": meta["name"]},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "SecretStore", "name": SECRET_STORE},  # the app namespace's own
            "target": target,
            "data": [
                {"secretKey": k, "remoteRef": {"key": path, "property": prop}}
                for k, (path, prop) in sorted(sink.data.items())
            ],
        },
    }


def go_index(key: str) -> str:
    """`{{ index . "key" }}`: an ESO template reading one key of the fetched data."""
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return "{{ index . " + f'"{quoted}"' + " }}"


def eso_template(parts: list[Segment], sink: SecretSink) -> str:
    """ESO renders Go templates: literal `{{` is escaped so developer text stays text.

    Only Secrets Manager references can be templated; the caller refuses in-cluster ones."""
    text = ""
    for part in parts:
        if isinstance(part, SecretRef):
            text += go_index(sink.key_for(part))
        else:
            text += part.replace("{{", '{{ "{{" }}')
    return text
