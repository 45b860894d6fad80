#!/usr/bin/env python3
"""Validate the Kubernetes manifests in deploy/, offline.

For every kustomization under deploy/ (every directory with a
kustomization.yaml), this script:

1. builds it with `kubectl kustomize`;
2. validates every rendered object against the Kubernetes OpenAPI schemas
   (the strict variant: unknown fields fail) of the versions in
   K8S_VERSIONS, with the `kubernetes-validate` package. cert-manager's
   kinds are not in those schemas: they are validated against a minimal
   schema of our own (tests/deploy/schemas/cert-manager.io_v1.json), and any
   other kind without a schema fails;
3. checks the security settings of every container (init and ephemeral
   ones included) of every workload: runAsNonRoot, a non-zero runAsUser,
   readOnlyRootFilesystem, allowPrivilegeEscalation false, seccomp
   RuntimeDefault, all capabilities dropped and none added, not privileged,
   no host namespaces;
4. checks that the pieces fit together: Services select a workload and
   target its ports, the injector's flags match its mounts and probes and
   name the config server's Service, the webhook configuration has the
   settings and the selectors of Istio's default revision (evaluated on a
   table of namespace and pod labels), RBAC names every resource it can, the
   ConfigMaps hold exactly deploy/base/config/*, and the cert-manager
   overlay's Certificate, CA injection and flags agree with each other;
5. then (the self-test) breaks a copy of deploy/ in one way at a time and
   checks that the validation above catches each breakage.

Each check counts once; the last line is `N passed, M failed`, and the exit
status is 1 when any check failed. Run: python3 tests/deploy/validate.py
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

import jsonschema
import yaml

import kubernetes_validate
import kubernetes_validate.utils

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# The schemas to validate against: the release the binaries' k8s-openapi is
# built for (feature v1_33), and the newest release the pinned
# kubernetes-validate ships.
K8S_VERSIONS = ["1.33", kubernetes_validate.utils.major_minor(kubernetes_validate.latest_version())]

NAMESPACE = "istio-system"
IMAGE = "sidecar-injector"
TLS_SECRET = "injector-tls"
TLS_DIR = "/etc/injector/tls"
WEBHOOK_NAMES = ["namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"]
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]
CONFIGMAPS = {
    "istio-sidecar-injector": {"config": "config", "values": "values"},
    "istio": {"mesh": "mesh"},
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "CustomResourceDefinition", "PriorityClass",
    "ClusterIssuer",
}
OWN_SCHEMAS = {"cert-manager.io/v1": HERE / "schemas" / "cert-manager.io_v1.json"}

# Rules that cannot name their object: a create request carries no name at
# authorization time, and events get generated names.
UNNAMED_RULES_ALLOWED = {("events.k8s.io", "events", "create"), ("events.k8s.io", "events", "patch"),
                         ("", "secrets", "create"),
                         # --native-sidecars auto watches every Node's kubelet version.
                         ("", "nodes", "get"), ("", "nodes", "list"), ("", "nodes", "watch")}

# What each kustomization must render, beyond the checks every one gets.
BASE_EXPECT = {"injector_replicas": 3, "config_server_replicas": 2, "hpa": True, "self_managed_certs": True}
EXPECT = {
    "base": BASE_EXPECT,
    "overlays/cert-manager": {**BASE_EXPECT, "self_managed_certs": False},
    "overlays/dev": {"injector_replicas": 1, "config_server_replicas": 1, "hpa": False,
                     "self_managed_certs": True},
}


class Report:
    """Counts checks; prints each failure (and each pass when verbose)."""

    def __init__(self, verbose: bool = False, quiet: bool = False):
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []
        self.verbose = verbose
        self.quiet = quiet

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        if ok:
            self.passed += 1
            if self.verbose:
                print(f"ok    {what}")
        else:
            self.failed += 1
            msg = f"{what}: {why}" if why else what
            self.failures.append(msg)
            if not self.quiet:
                print(f"FAIL  {msg}")
        return ok


# -- helpers -----------------------------------------------------------------

def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    for key in path:
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
    return obj


def ref(obj: dict) -> str:
    ns = get(obj, "metadata", "namespace")
    name = get(obj, "metadata", "name", default="?")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name}"


def find(objs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objs if o.get("kind") == kind and (name is None or get(o, "metadata", "name") == name)]


def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec")
    if kind == "CronJob":
        return get(obj, "spec", "jobTemplate", "spec", "template", "spec")
    if kind in WORKLOAD_KINDS:
        return get(obj, "spec", "template", "spec")
    return None


def pod_labels(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return get(obj, "metadata", "labels", default={})
    if obj.get("kind") == "CronJob":
        return get(obj, "spec", "jobTemplate", "spec", "template", "metadata", "labels", default={})
    return get(obj, "spec", "template", "metadata", "labels", default={})


def containers(spec: dict) -> Iterable[tuple[str, dict]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            yield field, c


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A metav1.LabelSelector; an absent or empty selector matches everything."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and not (key in labels and labels[key] in values):
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def resolve_port(container_list: list[dict], port: int | str) -> int | None:
    """A Service targetPort or probe port (number or name) to a container port number."""
    for c in container_list:
        for p in c.get("ports") or []:
            if port == p.get("containerPort") or port == p.get("name"):
                return p.get("containerPort")
    return port if isinstance(port, int) else None


def flag(args: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` in an argument list."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


# -- rendering and schemas ---------------------------------------------------

def kustomizations(deploy_dir: pathlib.Path) -> list[pathlib.Path]:
    found = set()
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        found.update(p.parent for p in deploy_dir.rglob(name))
    return sorted(found)


def render(kubectl: str, directory: pathlib.Path) -> tuple[list[dict] | None, str]:
    proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip() or f"exit status {proc.returncode}"
    try:
        return [d for d in yaml.safe_load_all(proc.stdout) if d], ""
    except yaml.YAMLError as e:
        return None, f"output is not YAML: {e}"


def speed_up_kubernetes_validate() -> None:
    # kubernetes-validate reads its (large) schema files again for every
    # object; read each once. Only a speed-up: skipped if the internals differ.
    fn = getattr(kubernetes_validate.utils, "schema_contents", None)
    if fn is not None and not hasattr(fn, "cache_info"):
        kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(fn)


@functools.lru_cache(maxsize=None)
def own_schema(api_version: str, kind: str) -> dict | None:
    path = OWN_SCHEMAS.get(api_version)
    if path is None:
        return None
    doc = json.loads(path.read_text())
    if kind not in doc["$defs"]:
        return None
    return {"$defs": doc["$defs"], "$ref": f"#/$defs/{kind}"}


def check_schema(r: Report, where: str, obj: dict) -> None:
    what = f"{where}: {ref(obj)}: schema"
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        r.check(False, what, "no apiVersion or kind")
        return
    schema = own_schema(obj["apiVersion"], obj["kind"])
    if schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=str)
        r.check(not errors, what + " (own minimal schema: not in the Kubernetes OpenAPI)",
                "; ".join(f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:3]))
        return
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            r.check(True, f"{what} (Kubernetes {version}, strict)")
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(root)"
            r.check(False, f"{what} (Kubernetes {version}, strict)", f"{path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            r.check(False, f"{what} (Kubernetes {version})",
                    f"{e.message}; add a schema to tests/deploy/schemas/ for a non-core kind")


# -- the checks --------------------------------------------------------------

def check_metadata(r: Report, where: str, objs: list[dict]) -> None:
    seen: set[tuple] = set()
    for o in objs:
        key = (o.get("apiVersion"), o.get("kind"), get(o, "metadata", "namespace"), get(o, "metadata", "name"))
        r.check(key not in seen, f"{where}: {ref(o)}: unique", "rendered twice")
        seen.add(key)
        ns = get(o, "metadata", "namespace")
        if o.get("kind") in CLUSTER_SCOPED:
            r.check(ns is None, f"{where}: {ref(o)}: cluster-scoped, no namespace", f"has namespace {ns}")
        else:
            r.check(ns == NAMESPACE, f"{where}: {ref(o)}: in namespace {NAMESPACE}", f"namespace is {ns!r}")


def check_security(r: Report, where: str, objs: list[dict]) -> None:
    workloads = [o for o in objs if o.get("kind") in WORKLOAD_KINDS]
    r.check(bool(workloads), f"{where}: renders workloads", "no workload found: nothing to check")
    for w in workloads:
        spec = pod_spec(w) or {}
        psc = spec.get("securityContext") or {}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            r.check(spec.get(host) is not True, f"{where}: {ref(w)}: no {host}", f"{host} is true")
        cs = list(containers(spec))
        r.check(bool(cs), f"{where}: {ref(w)}: has containers", "no container")
        for field, c in cs:
            name = f"{where}: {ref(w)}: {field} {c.get('name')}"
            sc = c.get("securityContext") or {}

            def eff(key: str) -> Any:  # container settings override the pod's
                return sc[key] if key in sc else psc.get(key)

            r.check(eff("runAsNonRoot") is True, f"{name}: runAsNonRoot",
                    f"runAsNonRoot is {eff('runAsNonRoot')!r}, must be true")
            uid = eff("runAsUser")
            r.check(isinstance(uid, int) and uid > 0, f"{name}: runAsUser non-root",
                    f"runAsUser is {uid!r}, must be a non-zero uid")
            r.check(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem",
                    f"readOnlyRootFilesystem is {sc.get('readOnlyRootFilesystem')!r}, must be true")
            r.check(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation",
                    f"allowPrivilegeEscalation is {sc.get('allowPrivilegeEscalation')!r}, must be false")
            seccomp = get(eff("seccompProfile"), "type")
            r.check(seccomp == "RuntimeDefault", f"{name}: seccompProfile RuntimeDefault",
                    f"seccompProfile type is {seccomp!r}")
            caps = sc.get("capabilities") or {}
            r.check("ALL" in (caps.get("drop") or []) and not caps.get("add"), f"{name}: capabilities drop ALL",
                    f"capabilities are {caps!r}, must drop [ALL] and add none")
            r.check(sc.get("privileged") is not True, f"{name}: not privileged", "privileged is true")
            res = c.get("resources") or {}
            r.check(bool(get(res, "requests", "cpu")) and bool(get(res, "requests", "memory"))
                    and bool(get(res, "limits", "memory")), f"{name}: resources",
                    f"needs cpu and memory requests and a memory limit, has {res!r}")


def check_images(r: Report, where: str, objs: list[dict]) -> None:
    images = {c.get("image") for w in objs if w.get("kind") in WORKLOAD_KINDS
              for _, c in containers(pod_spec(w) or {})}
    repos = {str(i).rsplit(":", 1)[0] if "@" not in str(i) else str(i).split("@")[0] for i in images}
    r.check(len(images) == 1, f"{where}: one image for every container", f"images: {sorted(map(str, images))}")
    r.check(all(repo.rsplit("/", 1)[-1] == IMAGE for repo in repos), f"{where}: the image is named {IMAGE}",
            f"images: {sorted(map(str, images))}")


def check_services(r: Report, where: str, objs: list[dict]) -> None:
    for svc in find(objs, "Service"):
        sel = get(svc, "spec", "selector") or {}
        targets = [w for w in objs if w.get("kind") in WORKLOAD_KINDS
                   and get(w, "metadata", "namespace") == get(svc, "metadata", "namespace")
                   and sel and all(pod_labels(w).get(k) == v for k, v in sel.items())]
        if not r.check(len(targets) == 1, f"{where}: {ref(svc)}: selects one workload",
                       f"selector {sel} selects {[ref(t) for t in targets]}"):
            continue
        cl = (pod_spec(targets[0]) or {}).get("containers") or []
        declared = {p.get("containerPort") for c in cl for p in c.get("ports") or []}
        for p in get(svc, "spec", "ports") or []:
            tp = resolve_port(cl, p.get("targetPort", p.get("port")))
            r.check(tp in declared, f"{where}: {ref(svc)}: port {p.get('port')} targets a container port",
                    f"targetPort {p.get('targetPort')!r} is not a port of {ref(targets[0])}")


def check_scaling(r: Report, where: str, objs: list[dict], expect: dict | None) -> None:
    for o in find(objs, "PodDisruptionBudget"):
        sel = get(o, "spec", "selector")
        hits = [w for w in objs if w.get("kind") in WORKLOAD_KINDS and selector_matches(sel, pod_labels(w))]
        r.check(len(hits) == 1, f"{where}: {ref(o)}: covers one workload", f"selects {[ref(h) for h in hits]}")
    for o in find(objs, "HorizontalPodAutoscaler"):
        tgt = get(o, "spec", "scaleTargetRef") or {}
        hits = find(objs, tgt.get("kind", ""), tgt.get("name"))
        r.check(len(hits) == 1, f"{where}: {ref(o)}: scales an existing workload", f"target {tgt} not rendered")
        if hits:
            r.check(get(o, "spec", "minReplicas", default=1) <= get(hits[0], "spec", "replicas", default=1)
                    <= get(o, "spec", "maxReplicas"), f"{where}: {ref(o)}: replicas within min..max",
                    "the Deployment's replicas are outside the autoscaler's range")
    inj = find(objs, "Deployment", "sidecar-injector")
    cs = find(objs, "Deployment", "config-server")
    r.check(len(inj) == 1 and len(cs) == 1, f"{where}: renders Deployments sidecar-injector and config-server",
            f"found {[ref(d) for d in find(objs, 'Deployment')]}")
    if not inj or not cs:
        return
    inj_spec = pod_spec(inj[0]) or {}
    r.check(bool(inj_spec.get("topologySpreadConstraints")), f"{where}: {ref(inj[0])}: topology spread",
            "no topologySpreadConstraints")
    pdbs = [p for p in find(objs, "PodDisruptionBudget") if selector_matches(get(p, "spec", "selector"),
                                                                             pod_labels(inj[0]))]
    r.check(len(pdbs) == 1, f"{where}: {ref(inj[0])}: has a PodDisruptionBudget", f"{len(pdbs)} found")
    if expect is None:
        return
    r.check(get(inj[0], "spec", "replicas") == expect["injector_replicas"],
            f"{where}: {ref(inj[0])}: {expect['injector_replicas']} replicas",
            f"replicas is {get(inj[0], 'spec', 'replicas')!r}")
    r.check(get(cs[0], "spec", "replicas") == expect["config_server_replicas"],
            f"{where}: {ref(cs[0])}: {expect['config_server_replicas']} replicas",
            f"replicas is {get(cs[0], 'spec', 'replicas')!r}")
    hpas = [h for h in find(objs, "HorizontalPodAutoscaler")
            if get(h, "spec", "scaleTargetRef", "name") == "sidecar-injector"]
    r.check(bool(hpas) == expect["hpa"], f"{where}: {ref(inj[0])}: {'has' if expect['hpa'] else 'no'} autoscaler",
            f"{len(hpas)} HorizontalPodAutoscaler found")
    for h in hpas:
        r.check(h.get("apiVersion") == "autoscaling/v2", f"{where}: {ref(h)}: autoscaling/v2",
                f"apiVersion is {h.get('apiVersion')}")


def check_processes(r: Report, where: str, objs: list[dict]) -> None:
    """The injector's and config server's flags against DESIGN §4, mounts, probes and Services."""
    inj = find(objs, "Deployment", "sidecar-injector")
    cs = find(objs, "Deployment", "config-server")
    if not inj or not cs:
        return  # reported by check_scaling
    spec = pod_spec(inj[0]) or {}
    c = (spec.get("containers") or [{}])[0]
    args = c.get("args") or []
    name = f"{where}: {ref(inj[0])}"
    r.check(args[:1] == ["serve"], f"{name}: runs `injector serve`", f"args are {args}")
    listen = flag(args, "--listen") or ""
    admin = flag(args, "--admin-listen") or ""
    r.check(listen == "0.0.0.0:9443", f"{name}: --listen 0.0.0.0:9443", f"--listen is {listen!r}")
    r.check(admin == "0.0.0.0:9090", f"{name}: --admin-listen 0.0.0.0:9090", f"--admin-listen is {admin!r}")

    # The certificate files come from Secret injector-tls, mounted read-only.
    vols = {v.get("name"): v for v in spec.get("volumes") or []}
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
    m = mounts.get(TLS_DIR) or {}
    secret = get(vols.get(m.get("name")), "secret", "secretName")
    r.check(secret == TLS_SECRET and m.get("readOnly") is True,
            f"{name}: Secret {TLS_SECRET} mounted read-only at {TLS_DIR}",
            f"{TLS_DIR} mounts {m or 'nothing'} from secret {secret!r}")
    items = get(vols.get(m.get("name")), "secret", "items")
    files = {i.get("path"): i.get("key") for i in items} if items else {"tls.crt": "tls.crt", "tls.key": "tls.key"}
    for fl, file in (("--tls-cert", "tls.crt"), ("--tls-key", "tls.key")):
        r.check(flag(args, fl) == f"{TLS_DIR}/{file}" and files.get(file) == file,
                f"{name}: {fl} {TLS_DIR}/{file}, the Secret's {file}",
                f"{fl} is {flag(args, fl)!r}; the volume projects {files}")

    # Probes on the admin port.
    admin_port = int(admin.rsplit(":", 1)[-1]) if admin.rsplit(":", 1)[-1].isdigit() else None
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        hg = get(c, probe, "httpGet") or {}
        port = resolve_port([c], hg.get("port")) if hg else None
        r.check(hg.get("path") == path and port == admin_port and admin_port is not None,
                f"{name}: {probe} GET {path} on the admin port", f"{probe} is {c.get(probe)!r}")

    # --config-server names the config server's Service and port.
    url = urlparse(flag(args, "--config-server") or "")
    host = (url.hostname or "").split(".")
    svcs = find(objs, "Service", host[0]) if host[0] else []
    ok = (url.scheme == "http" and len(host) >= 2 and host[1:3] in ([NAMESPACE], [NAMESPACE, "svc"])
          and len(svcs) == 1 and get(svcs[0], "metadata", "namespace") == NAMESPACE
          and any(p.get("port") == url.port for p in get(svcs[0], "spec", "ports") or []))
    r.check(ok, f"{name}: --config-server names the config-server Service and its port",
            f"--config-server is {flag(args, '--config-server')!r}")
    if svcs:
        r.check(all(pod_labels(cs[0]).get(k) == v for k, v in (get(svcs[0], "spec", "selector") or {}).items()),
                f"{where}: {ref(svcs[0])}: selects the config-server pods", "selector does not match")

    # config-server serve --source kube --listen 0.0.0.0:15010
    cc = ((pod_spec(cs[0]) or {}).get("containers") or [{}])[0]
    cargs = cc.get("args") or []
    name = f"{where}: {ref(cs[0])}"
    r.check(cargs[:1] == ["serve"] and flag(cargs, "--source") == "kube" and flag(cargs, "--listen") == "0.0.0.0:15010",
            f"{name}: runs `config-server serve --source kube --listen 0.0.0.0:15010`", f"args are {cargs}")
    cadmin = flag(cargs, "--admin-listen") or ""
    r.check(cadmin == "0.0.0.0:15014", f"{name}: --admin-listen 0.0.0.0:15014", f"--admin-listen is {cadmin!r}")
    for probe in ("readinessProbe", "livenessProbe"):
        hg = get(cc, probe, "httpGet") or {}
        r.check(hg.get("path") == "/healthz" and resolve_port([cc], hg.get("port")) == 15014,
                f"{name}: {probe} GET /healthz on the admin port", f"{probe} is {cc.get(probe)!r}")
    r.check(get(pod_spec(cs[0]), "serviceAccountName") == "config-server",
            f"{name}: runs as ServiceAccount config-server", "another service account")
    r.check((pod_spec(inj[0]) or {}).get("automountServiceAccountToken") is False,
            f"{where}: {ref(inj[0])}: no API token mounted", "automountServiceAccountToken is not false")


def check_configmaps(r: Report, where: str, objs: list[dict], config_dir: pathlib.Path) -> None:
    for cm_name, keys in CONFIGMAPS.items():
        cms = find(objs, "ConfigMap", cm_name)
        if not r.check(len(cms) == 1, f"{where}: ConfigMap {cm_name} (stable name)", f"{len(cms)} found"):
            continue
        data = cms[0].get("data") or {}
        r.check(set(data) == set(keys), f"{where}: ConfigMap {cm_name}: keys {sorted(keys)}",
                f"keys are {sorted(data)}")
        for key, file in keys.items():
            r.check(data.get(key) == (config_dir / file).read_text(),
                    f"{where}: ConfigMap {cm_name}: {key} is deploy/base/config/{file}",
                    "content differs from the file the binaries embed")


def check_webhook(r: Report, where: str, objs: list[dict]) -> None:
    mwcs = find(objs, "MutatingWebhookConfiguration")
    if not r.check(len(mwcs) == 1, f"{where}: one MutatingWebhookConfiguration", f"{len(mwcs)} found"):
        return
    mwc = mwcs[0]
    hooks = mwc.get("webhooks") or []
    r.check([h.get("name") for h in hooks] == WEBHOOK_NAMES, f"{where}: {ref(mwc)}: webhooks {WEBHOOK_NAMES}",
            f"webhooks are {[h.get('name') for h in hooks]}")
    pods_create = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]
    for h in hooks:
        name = f"{where}: {ref(mwc)}: {h.get('name')}"
        rules = [{k: v for k, v in rule.items() if k != "scope"} for rule in h.get("rules") or []]
        r.check(rules == pods_create, f"{name}: pods CREATE only", f"rules are {h.get('rules')}")
        r.check(h.get("sideEffects") == "None", f"{name}: sideEffects None", f"is {h.get('sideEffects')!r}")
        r.check(h.get("admissionReviewVersions") == ["v1", "v1beta1"], f"{name}: admissionReviewVersions [v1, v1beta1]",
                f"is {h.get('admissionReviewVersions')!r}")
        r.check(h.get("failurePolicy") == "Fail", f"{name}: failurePolicy Fail", f"is {h.get('failurePolicy')!r}")
        t = h.get("timeoutSeconds")
        r.check(isinstance(t, int) and 1 <= t <= 30, f"{name}: timeoutSeconds set", f"is {t!r}")
        r.check(h.get("reinvocationPolicy") in ("Never", "IfNeeded"), f"{name}: reinvocationPolicy set",
                f"is {h.get('reinvocationPolicy')!r}")
        svc_ref = get(h, "clientConfig", "service") or {}
        r.check(svc_ref.get("path") == "/inject", f"{name}: path /inject", f"is {svc_ref.get('path')!r}")
        svcs = [s for s in find(objs, "Service", svc_ref.get("name"))
                if get(s, "metadata", "namespace") == svc_ref.get("namespace")]
        port = svc_ref.get("port", 443)
        ok = len(svcs) == 1 and any(p.get("port") == port for p in get(svcs[0], "spec", "ports") or [])
        r.check(ok, f"{name}: calls a rendered Service port",
                f"service {svc_ref.get('namespace')}/{svc_ref.get('name')}:{port} is not rendered")
        if ok:
            sp = next(p for p in get(svcs[0], "spec", "ports") if p.get("port") == port)
            inj = find(objs, "Deployment", "sidecar-injector")
            target = resolve_port(get(pod_spec(inj[0]), "containers", default=[]),
                                  sp.get("targetPort", port)) if inj else None
            r.check(port == 443 and target == 9443, f"{name}: Service port 443 reaches the injector's 9443",
                    f"port {port} reaches {target!r}")
        ns_sel = h.get("namespaceSelector") or {}
        excluded = any(e.get("key") == "kubernetes.io/metadata.name" and e.get("operator") == "NotIn"
                       and set(SYSTEM_NAMESPACES) <= set(e.get("values") or [])
                       for e in ns_sel.get("matchExpressions") or [])
        r.check(excluded, f"{name}: excludes {', '.join(SYSTEM_NAMESPACES)}",
                "no kubernetes.io/metadata.name NotIn expression with the system namespaces")

    # The selectors' meaning, on a table of cases: how many webhooks the API
    # server calls for a pod (Istio's default revision: never twice).
    def calls(ns_name: str, ns_labels: dict, pod: dict) -> int:
        ns_labels = {**ns_labels, "kubernetes.io/metadata.name": ns_name}
        return sum(1 for h in hooks if selector_matches(h.get("namespaceSelector"), ns_labels)
                   and selector_matches(h.get("objectSelector"), pod))

    on = {"istio-injection": "enabled"}
    yes, no = {"sidecar.istio.io/inject": "true"}, {"sidecar.istio.io/inject": "false"}
    cases = [
        ("namespace istio-injection=enabled, plain pod: injected", "apps", on, {}, 1),
        ("namespace istio-injection=enabled, pod inject=false: not injected", "apps", on, no, 0),
        ("namespace istio-injection=enabled, pod inject=true: injected once", "apps", on, yes, 1),
        ("unlabelled namespace, plain pod: not injected", "apps", {}, {}, 0),
        ("unlabelled namespace, pod inject=true: injected", "apps", {}, yes, 1),
        ("unlabelled namespace, pod inject=false: not injected", "apps", {}, no, 0),
        ("unlabelled namespace, pod inject=true with istio.io/rev: left to that revision", "apps", {},
         {**yes, "istio.io/rev": "canary"}, 0),
        ("namespace istio-injection=disabled, pod inject=true: not injected", "apps",
         {"istio-injection": "disabled"}, yes, 0),
        ("namespace istio.io/rev=canary, pod inject=true: left to that revision", "apps",
         {"istio.io/rev": "canary"}, yes, 0),
        ("kube-system labelled istio-injection=enabled: never called", "kube-system", on, {}, 0),
        ("kube-public, pod inject=true: never called", "kube-public", {}, yes, 0),
    ]
    for what, ns_name, ns_labels, pod, want in cases:
        got = calls(ns_name, ns_labels, pod)
        r.check(got == want, f"{where}: webhook selectors: {what}", f"the webhook is called {got} times, want {want}")
    # Our own pods never go through our webhook, even in a labelled namespace:
    # with failurePolicy Fail they could otherwise never start.
    ns_labels = get((find(objs, "Namespace", NAMESPACE) or [{}])[0], "metadata", "labels", default={})
    for w in (o for o in objs if o.get("kind") in WORKLOAD_KINDS):
        got = calls(NAMESPACE, {**ns_labels, **on}, pod_labels(w))
        r.check(got == 0, f"{where}: {ref(w)}: its pods bypass the webhook", f"the webhook is called {got} times")


def rbac_rules(objs: list[dict]) -> list[tuple[dict, dict]]:
    return [(o, rule) for o in objs if o.get("kind") in ("Role", "ClusterRole") for rule in o.get("rules") or []]


def check_rbac(r: Report, where: str, objs: list[dict], expect: dict | None) -> None:
    mwc_names = [get(m, "metadata", "name") for m in find(objs, "MutatingWebhookConfiguration")]
    for o, rule in rbac_rules(objs):
        name = f"{where}: {ref(o)}: rule {rule.get('apiGroups')} {rule.get('resources')} {rule.get('verbs')}"
        wild = [f for f in ("apiGroups", "resources", "verbs", "resourceNames") if "*" in (rule.get(f) or [])]
        r.check(not wild and not rule.get("nonResourceURLs"), f"{name}: no wildcards",
                f"'*' in {wild}" if wild else "nonResourceURLs")
        if not rule.get("resourceNames"):
            unnamed = {(g, res, v) for g in rule.get("apiGroups") or [] for res in rule.get("resources") or []
                       for v in rule.get("verbs") or []}
            extra = sorted(unnamed - UNNAMED_RULES_ALLOWED)
            r.check(not extra, f"{name}: names its objects (or cannot: create, events)",
                    f"no resourceNames, but {extra} can name their objects and must (least privilege)")
        if "secrets" in (rule.get("resources") or []):
            r.check(o.get("kind") == "Role" and set(rule.get("resourceNames") or [TLS_SECRET]) == {TLS_SECRET}
                    and set(rule.get("verbs") or []) <= {"get", "update", "create"},
                    f"{name}: only Secret {TLS_SECRET} in the namespace, get/update/create",
                    "grants more than the injector's serving Secret")
        if "mutatingwebhookconfigurations" in (rule.get("resources") or []):
            r.check(set(rule.get("resourceNames") or []) <= set(mwc_names) and rule.get("resourceNames")
                    and set(rule.get("verbs") or []) <= {"get", "patch"},
                    f"{name}: only this installation's webhook configuration, get/patch",
                    f"resourceNames {rule.get('resourceNames')} verbs {rule.get('verbs')}")
    for o in find(objs, "ClusterRole"):
        res = {x for rule in o.get("rules") or [] for x in rule.get("resources") or []}
        r.check(res <= {"mutatingwebhookconfigurations", "nodes"},
                f"{where}: {ref(o)}: cluster-wide only the webhook configuration and nodes",
                f"grants {sorted(res)} cluster-wide")
    # Nodes: read, and nothing more (auto native sidecars).
    node_rules = [(o, rule) for o, rule in rbac_rules(objs) if "nodes" in (rule.get("resources") or [])]
    r.check(len(node_rules) == 1 and node_rules[0][1].get("apiGroups") == [""]
            and node_rules[0][1].get("resources") == ["nodes"]
            and sorted(node_rules[0][1].get("verbs") or []) == ["get", "list", "watch"],
            f"{where}: config server reads nodes (get/list/watch) and nothing more",
            f"nodes rules: {[rule for _, rule in node_rules]}")

    roles = {(o.get("kind"), get(o, "metadata", "namespace"), get(o, "metadata", "name")) for o in objs
             if o.get("kind") in ("Role", "ClusterRole")}
    sas = {(get(o, "metadata", "namespace"), get(o, "metadata", "name")) for o in find(objs, "ServiceAccount")}
    for b in [o for o in objs if o.get("kind") in ("RoleBinding", "ClusterRoleBinding")]:
        rr = b.get("roleRef") or {}
        ns = get(b, "metadata", "namespace") if rr.get("kind") == "Role" else None
        r.check((rr.get("kind"), ns, rr.get("name")) in roles, f"{where}: {ref(b)}: binds a rendered role",
                f"roleRef {rr} is not rendered")
        for s in b.get("subjects") or []:
            r.check(s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) in sas,
                    f"{where}: {ref(b)}: binds a rendered ServiceAccount", f"subject {s}")

    # The config server can read exactly the two ConfigMaps.
    cm_rules = [(o, rule) for o, rule in rbac_rules(objs) if "configmaps" in (rule.get("resources") or [])]
    r.check(len(cm_rules) == 1 and cm_rules[0][0].get("kind") == "Role"
            and sorted(cm_rules[0][1].get("resourceNames") or []) == sorted(CONFIGMAPS)
            and sorted(cm_rules[0][1].get("verbs") or []) == ["get", "list", "watch"],
            f"{where}: config server reads exactly ConfigMaps {sorted(CONFIGMAPS)} (get/list/watch)",
            f"configmap rules: {[rule for _, rule in cm_rules]}")

    if expect is None:
        return
    secret_verbs = {v for o, rule in rbac_rules(objs) if "secrets" in (rule.get("resources") or []) for v in rule["verbs"]}
    mwc_verbs = {v for o, rule in rbac_rules(objs) if "mutatingwebhookconfigurations" in (rule.get("resources") or [])
                 for v in rule["verbs"]}
    if expect["self_managed_certs"]:
        r.check(secret_verbs == {"get", "update", "create"} and mwc_verbs == {"get", "patch"},
                f"{where}: self-managed certificates: the config server may keep {TLS_SECRET} and patch the caBundle",
                f"secrets {sorted(secret_verbs)}, webhook configuration {sorted(mwc_verbs)}")
    else:
        r.check(not secret_verbs and not mwc_verbs,
                f"{where}: certificates from cert-manager: the config server has no Secret or webhook permission",
                f"secrets {sorted(secret_verbs)}, webhook configuration {sorted(mwc_verbs)}")


def check_cert_manager(r: Report, where: str, objs: list[dict], expect: dict | None) -> None:
    certs = [c for c in find(objs, "Certificate") if get(c, "spec", "secretName") == TLS_SECRET]
    cs = find(objs, "Deployment", "config-server")
    cargs = get((pod_spec(cs[0]) if cs else None) or {}, "containers", 0, "args", default=[])
    flag_off = "--self-managed-certs=false" in cargs or flag(cargs, "--self-managed-certs") == "false"
    mwc = (find(objs, "MutatingWebhookConfiguration") or [{}])[0]
    inject_from = get(mwc, "metadata", "annotations", "cert-manager.io/inject-ca-from")
    if expect is not None:
        want = not expect["self_managed_certs"]
        r.check(flag_off == want, f"{where}: config server self-managed certificates {'off' if want else 'on'}",
                f"args are {cargs}")
        r.check(bool(certs) == want, f"{where}: {'a' if want else 'no'} cert-manager Certificate for {TLS_SECRET}",
                f"{len(certs)} found")
    if not certs:
        r.check(inject_from is None, f"{where}: no cert-manager CA injection without a Certificate",
                f"inject-ca-from is {inject_from!r}")
        return
    cert = certs[0]
    name = f"{where}: {ref(cert)}"
    svc = get(mwc, "webhooks", 0, "clientConfig", "service") or {}
    host = f"{svc.get('name')}.{svc.get('namespace')}.svc"
    r.check(host in (get(cert, "spec", "dnsNames") or []), f"{name}: valid for {host}",
            f"dnsNames are {get(cert, 'spec', 'dnsNames')}")
    issuer = get(cert, "spec", "issuerRef") or {}
    issuers = [i for i in find(objs, issuer.get("kind", "Issuer"), issuer.get("name"))
               if issuer.get("kind") == "ClusterIssuer" or get(i, "metadata", "namespace") == get(cert, "metadata", "namespace")]
    r.check(len(issuers) == 1, f"{name}: its issuer is rendered", f"issuerRef {issuer}")
    ca_secret = get(issuers[0], "spec", "ca", "secretName") if issuers else None
    if ca_secret:  # a CA issuer: its CA must come from a rendered Certificate
        r.check(any(get(c, "spec", "secretName") == ca_secret and get(c, "spec", "isCA") is True
                    for c in find(objs, "Certificate")), f"{name}: its CA Secret {ca_secret} is issued by a CA Certificate",
                "no Certificate with isCA writes it")
    want = f"{get(cert, 'metadata', 'namespace')}/{get(cert, 'metadata', 'name')}"
    r.check(inject_from == want, f"{where}: {ref(mwc)}: cert-manager.io/inject-ca-from {want}",
            f"inject-ca-from is {inject_from!r}")


def validate_tree(deploy_dir: pathlib.Path, kubectl: str, r: Report) -> None:
    config_dir = deploy_dir / "base" / "config"
    dirs = kustomizations(deploy_dir)
    r.check(bool(dirs), f"kustomizations found under {deploy_dir}", "none found")
    for d in dirs:
        rel = d.relative_to(deploy_dir).as_posix()
        where = f"deploy/{rel}"
        objs, err = render(kubectl, d)
        if not r.check(objs is not None, f"{where}: kubectl kustomize builds", err):
            continue
        expect = EXPECT.get(rel)
        for o in objs:
            check_schema(r, where, o)
        check_metadata(r, where, objs)
        check_security(r, where, objs)
        check_images(r, where, objs)
        check_services(r, where, objs)
        check_scaling(r, where, objs, expect)
        check_processes(r, where, objs)
        check_configmaps(r, where, objs, config_dir)
        check_webhook(r, where, objs)
        check_rbac(r, where, objs, expect)
        check_cert_manager(r, where, objs, expect)


# -- self-test: every broken variant must be caught --------------------------

def replace_all(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new)


def replace_first(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new, 1)


def replace_last(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        head, sep, tail = text.rpartition(old)
        return head + new + tail if sep else text
    return edit


def drop_lines(line: str, count: int | None = None) -> Callable[[str], str]:
    """Remove the lines whose stripped text is `line` (the first `count`, or all)."""
    def edit(text: str) -> str:
        out, dropped = [], 0
        for ln in text.splitlines(keepends=True):
            if ln.strip() == line and (count is None or dropped < count):
                dropped += 1
                continue
            out.append(ln)
        return "".join(out)
    return edit


# (what is broken, file under deploy/, edit, words the failure must mention)
MUTATIONS = [
    ("readOnlyRootFilesystem removed from the injector", "base/injector.yaml",
     drop_lines("readOnlyRootFilesystem: true", 1), "readOnlyRootFilesystem"),
    ("runAsNonRoot removed from the injector container and pod", "base/injector.yaml",
     drop_lines("runAsNonRoot: true"), "runAsNonRoot"),
    ("config server runs as uid 0", "base/config-server.yaml",
     replace_all("runAsUser: 65532", "runAsUser: 0"), "runAsUser"),
    ("config server allows privilege escalation", "base/config-server.yaml",
     replace_first("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"), "allowPrivilegeEscalation"),
    ("config server seccomp Unconfined", "base/config-server.yaml",
     replace_all("type: RuntimeDefault", "type: Unconfined"), "seccompProfile"),
    ("injector keeps its capabilities", "base/injector.yaml",
     replace_first('drop: ["ALL"]', "drop: []"), "capabilities"),
    ("a misspelt field", "base/injector.yaml", replace_first("maxSkew: 1", "maxSkw: 1"), "schema"),
    ("webhook failurePolicy Ignore", "base/webhook.yaml",
     replace_first("failurePolicy: Fail", "failurePolicy: Ignore"), "failurePolicy"),
    ("object webhook ignores istio.io/rev on the pod", "base/webhook.yaml",
     replace_last("        - key: istio.io/rev\n          operator: DoesNotExist\n", ""), "webhook selectors"),
    ("config server may update nodes", "base/config-server-rbac.yaml",
     replace_first('verbs: ["get", "list", "watch"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding',
                   'verbs: ["get", "list", "watch", "update"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding'),
     "nodes"),
    ("ConfigMap read without resourceNames", "base/config-server-rbac.yaml",
     drop_lines('resourceNames: ["istio-sidecar-injector", "istio"]'), "resourceNames"),
    ("TLS mounted elsewhere", "base/injector.yaml",
     replace_first("mountPath: /etc/injector/tls", "mountPath: /tls"), "/etc/injector/tls"),
    ("cert-manager overlay keeps self-managed certificates on", "overlays/cert-manager/kustomization.yaml",
     replace_first("value: --self-managed-certs=false", "value: --self-managed-certs=true"), "self-managed"),
]


def self_test(deploy_dir: pathlib.Path, kubectl: str, r: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="deploy-selftest-") as tmp:
        for what, rel, edit, needle in MUTATIONS:
            copy = pathlib.Path(tmp) / f"m{MUTATIONS.index((what, rel, edit, needle))}"
            shutil.copytree(deploy_dir, copy)
            target = copy / rel
            before = target.read_text()
            after = edit(before)
            if not r.check(after != before, f"self-test: {what}: the edit applies", f"{rel} did not change"):
                continue
            target.write_text(after)
            inner = Report(quiet=True)
            validate_tree(copy, kubectl, inner)
            hits = [f for f in inner.failures if needle in f]
            r.check(bool(hits), f"self-test: {what}: caught",
                    f"the validation did not fail with a message naming {needle!r} "
                    f"(failures: {inner.failures[:3]})")
            if r.verbose and hits:
                print(f"      caught as: {hits[0]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deploy-dir", type=pathlib.Path, default=ROOT / "deploy")
    ap.add_argument("--kubectl", default=os.environ.get("KUBECTL", "kubectl"))
    ap.add_argument("--no-self-test", action="store_true", help="skip the broken-variant self-test")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every check, not only failures")
    a = ap.parse_args()

    if shutil.which(a.kubectl) is None:
        print(f"FAIL  {a.kubectl} not found: kubectl is needed for `kubectl kustomize`", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    version = subprocess.run([a.kubectl, "version", "--client"], capture_output=True, text=True).stdout
    print(" ".join(version.split()) + f"; schemas of Kubernetes {', '.join(K8S_VERSIONS)} "
          f"(kubernetes-validate {kubernetes_validate.version.__version__})")
    speed_up_kubernetes_validate()

    r = Report(verbose=a.verbose)
    validate_tree(a.deploy_dir.resolve(), a.kubectl, r)
    if not a.no_self_test:
        self_test(a.deploy_dir.resolve(), a.kubectl, r)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
