"""An app namespace as a tenant: its own secret store and AWS role, Pod Security `restricted`,
default-deny ingress with the allowances the rendered objects imply, and a quota from its profiles.

Everything here is derived from the app's rendered objects (and the profiles of its workloads), so a
publish of the app alone renders the same bytes as a platform-wide one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from renderer.data import Json, KubeObject, json_object, object_name
from renderer.errors import InputError, Problem
from renderer.model import Environment, Profile
from renderer.render.kubernetes.labels import recommended
from renderer.render.kubernetes.observability import ANNOTATION_SCRAPED_FROM
from renderer.render.kubernetes.quotas import limit_range, resource_quota
from renderer.render.kubernetes.secrets import SECRET_STORE

# Tenancy objects' names start with `renderer.`: a workload's name has no dot, so none can collide.
OWN = "renderer."
READER = f"{OWN}secret-reader"  # the ServiceAccount whose token the app's SecretStore exchanges for its role
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
ROLE_PATH = "/platform-renderer/"
READ_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
SHARED_SEGMENT = "shared"  # secret paths of shared resources: <prefix>/shared/<type>/<class>/<id>


def json_list(value: Json) -> Sequence[Json]:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else []


def role_name(env: str, app: str) -> str:
    """IAM role names have at most 64 characters: a long one is cut and keeps a hash of the whole."""
    name = f"{env}-{app}-secrets"
    if len(name) <= 64:
        return name
    return f"{name[:55]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def role_arn(env: Environment, app: str) -> str:
    return f"arn:aws:iam::{env.account_id}:role{ROLE_PATH}{role_name(env.id, app)}"


def secret_arn(env: Environment, name_pattern: str) -> str:
    return f"arn:aws:secretsmanager:{env.region}:{env.account_id}:secret:{name_pattern}"


def remote_keys(objects: Sequence[Mapping[str, Json]]) -> list[str]:
    """Every Secrets Manager name the app's ExternalSecrets read."""
    keys = set()
    for obj in objects:
        if obj.get("kind") == "ExternalSecret":
            for item in json_list(json_object(obj.get("spec")).get("data")):
                keys.add(str(json_object(json_object(item).get("remoteRef")).get("key")))
    return sorted(keys)


def tenancy_objects(
    env: Environment, app: str, objects: Sequence[Mapping[str, Json]], profiles: Sequence[Profile]
) -> list[KubeObject]:
    """The objects that make the app's namespace a tenant (they live beside its Namespace)."""
    ns = env.namespace(app)
    out: list[KubeObject] = []
    if remote_keys(objects):
        out += [_reader(env, app, ns), _secret_store(env, app, ns)]
    out += network_policies(env, app, ns, objects)
    for make in (resource_quota, limit_range):
        made = make(profiles)
        if made is not None:
            out.append(_object(app, ns, made[0], OWN + made[1], made[2]))
    return out


def _object(app: str, ns: str, kind: str, name: str, rest: Mapping[str, Json]) -> KubeObject:
    api = {"ResourceQuota": "v1", "LimitRange": "v1", "ServiceAccount": "v1"}.get(kind, "")
    labels: dict[str, Json] = dict(recommended(name, app, "tenancy", app, None))
    meta: dict[str, Json] = {"name": name, "namespace": ns, "labels": labels}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **rest}


def _reader(env: Environment, app: str, ns: str) -> KubeObject:
    obj = _object(app, ns, "ServiceAccount", READER, {"automountServiceAccountToken": False})
    meta = dict(json_object(obj["metadata"]))
    meta["annotations"] = {ROLE_ANNOTATION: role_arn(env, app)}
    return {**obj, "metadata": meta}


def _secret_store(env: Environment, app: str, ns: str) -> KubeObject:
    auth = {"jwt": {"serviceAccountRef": {"name": READER}}}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": {
            "name": SECRET_STORE,
            "namespace": ns,
            "labels": recommended(SECRET_STORE, app, "secret-store", app, None),
        },
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": env.region, "auth": auth}}},
    }


def secret_access(
    env: Environment, app: str, objects: Sequence[Mapping[str, Json]]
) -> dict[str, Json] | None:
    """Terraform JSON for the app's role: only its own secrets, and the shared ones it reads."""
    keys = remote_keys(objects)
    if not keys:
        return None
    if app == SHARED_SEGMENT:
        raise InputError(
            [
                Problem(
                    f"apps/{app}",
                    0,
                    "",
                    f"app name '{app}' collides with the secret path of shared resources",
                    "the platform team can map the app to another name in trust.yaml",
                )
            ]
        )
    shared = f"{env.secret_prefix}/{SHARED_SEGMENT}/"
    resources = [secret_arn(env, f"{env.secret_prefix}/{app}/*")]
    # Secrets Manager appends `-` and six characters to a secret's name in its ARN
    resources += [secret_arn(env, f"{k}-??????") for k in keys if k.startswith(shared)]
    statement: dict[str, Json] = {"Sid": "ReadOwnSecrets", "Effect": "Allow"}
    statement.update({"Action": list(READ_ACTIONS), "Resource": list(resources)})
    policy: dict[str, Json] = {"Version": "2012-10-17", "Statement": [statement]}
    return {"resource": {"aws_iam_role": {"secret_reader": _role(env, app)}, **_policy(policy)}}


def _policy(policy: Mapping[str, Json]) -> dict[str, Json]:
    document = json.dumps(policy, sort_keys=True)
    attached = {"name": "read-own-secrets", "role": "${aws_iam_role.secret_reader.id}", "policy": document}
    return {"aws_iam_role_policy": {"secret_reader": attached}}


def _role(env: Environment, app: str) -> dict[str, Json]:
    issuer = env.oidc_provider
    subject = f"system:serviceaccount:{env.namespace(app)}:{READER}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{env.account_id}:oidc-provider/{issuer}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
                },
            }
        ],
    }
    return {
        "name": role_name(env.id, app),
        "path": ROLE_PATH,
        "description": f"External Secrets in {env.namespace(app)} read {env.secret_prefix}/{app}/*",
        "assume_role_policy": json.dumps(trust, sort_keys=True),
    }


def network_policies(
    env: Environment, app: str, ns: str, objects: Sequence[Mapping[str, Json]]
) -> list[KubeObject]:
    """Default-deny ingress; pods of the app reach its Services' ports; the ingress controller reaches
    the ports its Ingresses route to."""
    services = {object_name(o): o for o in objects if o.get("kind") == "Service"}
    out = [_netpol(app, ns, f"{OWN}default-deny-ingress", {}, None)]
    for name, svc in sorted(services.items()):
        selector, ports = _backend(svc, None)
        if selector:
            peer: dict[str, Json] = {"podSelector": {}}
            out.append(
                _netpol(app, ns, f"{OWN}allow-app-to-{name}", selector, {"from": [peer], "ports": ports})
            )
    routed: dict[str, tuple[dict[str, Json], list[Json]]] = {}
    for obj in objects:
        if obj.get("kind") == "Ingress":
            for svc_name, port in _ingress_backends(obj):
                if svc_name in services:
                    selector, ports = _backend(services[svc_name], port)
                    if selector and ports:
                        routed[f"{OWN}allow-ingress-to-{svc_name}-{port}"] = (selector, ports)
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": env.ingress_namespace}}
    }
    for name, (selector, ports) in sorted(routed.items()):
        out.append(_netpol(app, ns, name, selector, {"from": [controller], "ports": ports}))
    return out + _scraping(app, ns, objects, services)


def _scraping(
    app: str, ns: str, objects: Sequence[Mapping[str, Json]], services: Mapping[str, Mapping[str, Json]]
) -> list[KubeObject]:
    """Prometheus (in the namespace a monitor names) reaches the metrics port it scrapes."""
    out = []
    for obj in objects:
        kind = obj.get("kind")
        if kind not in ("ServiceMonitor", "PodMonitor"):
            continue
        meta = json_object(obj.get("metadata"))
        scraper = json_object(meta.get("annotations")).get(ANNOTATION_SCRAPED_FROM)
        spec = json_object(obj.get("spec"))
        selector = dict(json_object(json_object(spec.get("selector")).get("matchLabels")))
        ports = _scraped_ports(spec, services.get(object_name(obj)))
        if isinstance(scraper, str) and selector and ports:
            peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": scraper}}}
            name = f"{OWN}allow-scrape-{object_name(obj)}"
            out.append(_netpol(app, ns, name, selector, {"from": [peer], "ports": ports}))
    return out


def _scraped_ports(spec: Mapping[str, Json], svc: Mapping[str, Json] | None) -> list[Json]:
    """The pod ports a ServiceMonitor's endpoints (through its Service) or a PodMonitor's name."""
    ports: list[Json] = []
    for item in json_list(spec.get("podMetricsEndpoints")):
        number = json_object(item).get("portNumber")
        if isinstance(number, int):
            ports.append({"port": number, "protocol": "TCP"})
    names = {json_object(e).get("port") for e in json_list(spec.get("endpoints"))}
    for item in json_list(json_object(svc.get("spec")).get("ports")) if svc else ():
        p = json_object(item)
        if p.get("name") in names:
            ports.append({"port": p.get("targetPort", p.get("port")), "protocol": p.get("protocol", "TCP")})
    return ports


def _netpol(
    app: str, ns: str, name: str, selector: Mapping[str, Json], rule: Mapping[str, Json] | None
) -> KubeObject:
    spec: dict[str, Json] = {"podSelector": {"matchLabels": dict(selector)} if selector else {}}
    spec["policyTypes"] = ["Ingress"]
    if rule is not None:
        spec["ingress"] = [dict(rule)]
    labels: dict[str, Json] = dict(recommended(name, app, "network-policy", app, None))
    meta: dict[str, Json] = {"name": name, "namespace": ns, "labels": labels}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


def _backend(svc: Mapping[str, Json], port: int | None) -> tuple[dict[str, Json], list[Json]]:
    """A Service's pod selector and the pod ports behind its ports (only `port`, if given)."""
    spec = json_object(svc.get("spec"))
    selector = dict(json_object(spec.get("selector")))
    ports: list[Json] = []
    for item in json_list(spec.get("ports")):
        p = json_object(item)
        if port is None or p.get("port") == port:
            target = p.get("targetPort", p.get("port"))
            ports.append({"port": target, "protocol": p.get("protocol", "TCP")})
    return selector, ports


def _ingress_backends(ingress: Mapping[str, Json]) -> list[tuple[str, int]]:
    out = []
    for rule in json_list(json_object(ingress.get("spec")).get("rules")):
        for path in json_list(json_object(json_object(rule).get("http")).get("paths")):
            svc = json_object(json_object(json_object(path).get("backend")).get("service"))
            number = json_object(svc.get("port")).get("number")
            if isinstance(number, int):
                out.append((str(svc.get("name")), number))
    return out
