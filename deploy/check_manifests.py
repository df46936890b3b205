#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/k8s.

Usage: python deploy/check_manifests.py [repo_root]

1. deploy/k8s/kustomization.yaml lists every YAML file of deploy/k8s, and every file it lists exists.
2. Every document of every listed file validates against the Kubernetes API schemas of
   KUBERNETES_VERSION in strict mode (unknown fields are errors), with kubernetes-validate.
3. This project's own production rules hold (replicas, which paths and ports the probes use,
   migrations in an init container of the server's image, shutdown grace, autoscaling, disruption
   budget, selectors, body limits matching the server's, secrets kept out of the repository). The
   generic ones (resources, security contexts, seccomp, image tags) are checkov's, run beside this.
4. When kubectl is on PATH, `kubectl kustomize deploy/k8s` builds and its output validates as well
   (skipped, with a line saying so, without kubectl).

Prints one line per file checked, then each broken rule; exits 1 if anything failed, 2 on bad usage.
Needs PyYAML and kubernetes-validate (pinned in xtask/python-requirements.txt).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from kubernetes_validate.utils import VersionNotSupportedError

# The oldest Kubernetes the manifests must work on: 1.30 is the first release whose kubelet runs the
# preStop `sleep` action by default.
KUBERNETES_VERSION = "1.30"

NAMESPACE = "ticket-exchange"
LIVENESS_PATH = "/api/healthz"
READINESS_PATH = "/api/readyz"
# Variables that must come from the Secret, never from a ConfigMap.
SECRET_VARIABLES = (
    "DATABASE_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_CONNECT_WEBHOOK_SECRET",
    "SMTP_URL",
)
DEFAULT_MAX_BODY_BYTES = 65536
DEFAULT_SHUTDOWN_GRACE_SECONDS = 30


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.fail(message)
        return condition


# ---------------------------------------------------------------------------------------------
# Loading and schema validation


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]


def describe(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


def validate_document(doc: Any, where: str, report: Report) -> bool:
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        report.fail(f"{where}: not a Kubernetes object (needs apiVersion and kind)")
        return False
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        field = ".".join(str(part) for part in err.path) or "(top level)"
        report.fail(f"{where}: {describe(doc)} is invalid for Kubernetes {err.version}: {field}: {err.message}")
        return False
    except kubernetes_validate.SchemaNotFoundError as err:
        report.fail(f"{where}: {err.message}")
        return False
    except VersionNotSupportedError:
        report.fail(
            f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for Kubernetes {KUBERNETES_VERSION}"
        )
        return False
    return True


def check_listing(k8s: Path, kustomization: dict[str, Any], report: Report) -> list[str]:
    """Compares kustomization.yaml's resources with the directory; returns the listed files that exist."""
    listed = kustomization.get("resources") or []
    if not report.check(
        isinstance(listed, list) and bool(listed), "kustomization.yaml: `resources` must be a non-empty list"
    ):
        return []
    for name in listed:
        report.check(
            isinstance(name, str) and "/" not in name and name.endswith((".yaml", ".yml")),
            f"kustomization.yaml: resource {name!r} should be a YAML file of deploy/k8s itself",
        )
    on_disk = {p.name for p in k8s.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")}
    on_disk -= {"kustomization.yaml", "kustomization.yml"}
    for name in sorted(on_disk - set(listed)):
        report.fail(f"deploy/k8s/{name} is not listed in kustomization.yaml resources")
    for name in listed:
        if isinstance(name, str) and not (k8s / name).is_file():
            report.fail(f"kustomization.yaml lists {name}, which does not exist")
    duplicates = sorted({name for name in listed if listed.count(name) > 1})
    report.check(not duplicates, f"kustomization.yaml lists these more than once: {', '.join(duplicates)}")
    report.check(
        kustomization.get("namespace") == NAMESPACE,
        f"kustomization.yaml: namespace must be {NAMESPACE!r}, found {kustomization.get('namespace')!r}",
    )
    report.check(
        bool(kustomization.get("labels") or kustomization.get("commonLabels")),
        "kustomization.yaml: no common label (`labels`)",
    )
    return [name for name in listed if isinstance(name, str) and (k8s / name).is_file()]


# ---------------------------------------------------------------------------------------------
# Production rules


def parse_duration_seconds(text: str) -> float | None:
    """Parses the durations the server accepts in the forms used here: 30s, 1m, 1m30s, 2h."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", text)
    if not parts or re.sub(r"[\d.\s]+(ms|s|m|h|d)", "", text).strip():
        return None
    return sum(float(number) * units[unit] for number, unit in parts)


def parse_nginx_size(text: str) -> int | None:
    """nginx sizes: bytes, or k/m/g suffixes (powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)\s*", text)
    if not match:
        return None
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a matchLabels-style selector (non-empty) picks pods carrying `labels`."""
    if not selector:
        return False
    return all(labels.get(key) == value for key, value in selector.items())


def container_port_numbers(containers: list[dict[str, Any]]) -> dict[str | int, int]:
    ports: dict[str | int, int] = {}
    for container in containers:
        for port in container.get("ports") or []:
            ports[port["containerPort"]] = port["containerPort"]
            if "name" in port:
                ports[port["name"]] = port["containerPort"]
    return ports


def check_probe(container: dict[str, Any], probe_name: str, path: str, ports: dict, where: str, report: Report) -> None:
    probe = container.get(probe_name)
    if not report.check(bool(probe), f"{where}: no {probe_name}"):
        return
    http_get = probe.get("httpGet") or {}
    report.check(http_get.get("path") == path, f"{where}: {probe_name} must GET {path}, found {http_get.get('path')!r}")
    report.check(
        http_get.get("port") in ports, f"{where}: {probe_name} port {http_get.get('port')!r} is not a container port"
    )


def env_from_names(containers: list[dict[str, Any]], ref: str) -> set[str]:
    return {
        (source.get(ref) or {}).get("name")
        for container in containers
        for source in container.get("envFrom") or []
        if source.get(ref)
    }


def check_rules(docs: list[tuple[str, dict[str, Any]]], k8s: Path, report: Report) -> None:
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for file, doc in docs:
        by_kind.setdefault(doc["kind"], []).append((file, doc))
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        for key in annotations:
            report.check(
                "checkov.io" not in key,
                f"{file}: {describe(doc)} turns checkov checks off ({key}); skips belong in xtask/src/deploy.rs, with reasons",
            )
        namespace = (doc.get("metadata") or {}).get("namespace")
        report.check(
            namespace in (None, NAMESPACE),
            f"{file}: {describe(doc)} sets namespace {namespace!r}; leave it to kustomization.yaml",
        )

    for file, doc in by_kind.get("Secret", []):
        report.fail(
            f"{file}: {describe(doc)}: Secrets do not belong in the repository; they come from the secret store"
        )

    deployments = by_kind.get("Deployment", [])
    if not report.check(len(deployments) == 1, f"expected exactly one Deployment, found {len(deployments)}"):
        return
    file, deployment = deployments[0]
    name = deployment["metadata"]["name"]
    where = f"{file}: Deployment/{name}"
    spec = deployment["spec"]
    replicas = spec.get("replicas", 1)
    report.check(replicas >= 2, f"{where}: replicas must be at least 2, found {replicas}")
    template = spec["template"]
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    report.check(
        selects(spec["selector"].get("matchLabels"), pod_labels),
        f"{where}: selector.matchLabels does not match the pod template's labels",
    )
    pod = template["spec"]
    # Resources, security contexts, seccomp, probes' presence and image tags are checkov's (see
    # xtask/src/deploy.rs); what follows are this project's own rules.
    report.check(
        bool(pod.get("topologySpreadConstraints") or (pod.get("affinity") or {}).get("podAntiAffinity")),
        f"{where}: pods are not spread across nodes (topologySpreadConstraints or podAntiAffinity)",
    )
    containers = pod.get("containers") or []
    init_containers = pod.get("initContainers") or []

    # Settings the server reads from the listed ConfigMaps (defaults where unset).
    config_maps = {doc["metadata"]["name"]: doc.get("data") or {} for _, doc in by_kind.get("ConfigMap", [])}
    settings: dict[str, str] = {}
    for config_name in env_from_names(containers, "configMapRef"):
        settings.update(config_maps.get(config_name, {}))

    ports = container_port_numbers(containers)
    report.check(8080 in ports.values(), f"{where}: no container listens on port 8080 (BIND_ADDR)")
    servers = [c for c in containers if "serve" in (c.get("args") or []) + (c.get("command") or [])]
    if report.check(len(servers) == 1, f"{where}: expected one container running `serve`, found {len(servers)}"):
        server = servers[0]
        server_where = f"{where}: container {server['name']}"
        check_probe(server, "readinessProbe", READINESS_PATH, ports, server_where, report)
        check_probe(server, "livenessProbe", LIVENESS_PATH, ports, server_where, report)
        check_probe(server, "startupProbe", LIVENESS_PATH, ports, server_where, report)
        migrators = [c for c in init_containers if (c.get("args") or []) + (c.get("command") or []) == ["migrate"]]
        if report.check(len(migrators) == 1, f"{where}: expected one init container running `migrate`"):
            report.check(
                migrators[0].get("image") == server.get("image"),
                f"{where}: the migrate init container must run the server's image",
            )
        # Shutdown: the kubelet must not kill the process before in-flight requests have had their grace.
        pre_stop = ((server.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}
        grace = parse_duration_seconds(settings.get("SHUTDOWN_GRACE", f"{DEFAULT_SHUTDOWN_GRACE_SECONDS}s"))
        if report.check(grace is not None, f"SHUTDOWN_GRACE {settings.get('SHUTDOWN_GRACE')!r} is not a duration"):
            needed = grace + pre_stop.get("seconds", 0)
            period = pod.get("terminationGracePeriodSeconds", 30)
            report.check(
                period > needed,
                f"{where}: terminationGracePeriodSeconds {period} must exceed preStop sleep + SHUTDOWN_GRACE ({needed:g})",
            )

    # ConfigMaps and Secrets the pods read.
    all_containers = containers + init_containers
    config_map_names = {doc["metadata"]["name"] for _, doc in by_kind.get("ConfigMap", [])}
    for missing in sorted(env_from_names(all_containers, "configMapRef") - config_map_names):
        report.fail(f"{where}: reads ConfigMap {missing}, which no listed file defines")
    report.check(bool(env_from_names(all_containers, "secretRef")), f"{where}: no container reads a Secret (envFrom)")
    for cm_file, config_map in by_kind.get("ConfigMap", []):
        for variable in SECRET_VARIABLES:
            report.check(
                variable not in (config_map.get("data") or {}),
                f"{cm_file}: {describe(config_map)} holds {variable}, which is a secret",
            )
    example = k8s / "secrets.env.example"
    if report.check(example.is_file(), "deploy/k8s/secrets.env.example (the Secret's template) is missing"):
        keys = {
            line.split("=", 1)[0].strip()
            for line in example.read_text(encoding="utf-8").splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        }
        for variable in SECRET_VARIABLES:
            report.check(variable in keys, f"deploy/k8s/secrets.env.example does not name {variable}")

    # Service: selects the pods and targets a container port.
    services = by_kind.get("Service", [])
    report.check(bool(services), "no Service")
    service_ports: dict[str, set] = {}
    for svc_file, service in services:
        svc_where = f"{svc_file}: {describe(service)}"
        report.check(
            selects(service["spec"].get("selector"), pod_labels),
            f"{svc_where}: selector does not match the Deployment's pod labels",
        )
        names = service_ports.setdefault(service["metadata"]["name"], set())
        for port in service["spec"].get("ports") or []:
            names.update({port["port"], port.get("name")})
            target = port.get("targetPort", port["port"])
            report.check(target in ports, f"{svc_where}: targetPort {target!r} is not a container port")

    # Ingress: routes to a listed Service and caps bodies like the server does.
    for ing_file, ingress in by_kind.get("Ingress", []):
        ing_where = f"{ing_file}: {describe(ingress)}"
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path["backend"].get("service") or {}
                port = backend.get("port") or {}
                report.check(
                    backend.get("name") in service_ports
                    and (port.get("name") or port.get("number")) in service_ports[backend.get("name")],
                    f"{ing_where}: path {path.get('path')} routes to {backend.get('name')}:{port}, not a listed Service port",
                )
        report.check(bool(ingress["spec"].get("tls")), f"{ing_where}: no TLS section")
        annotation = (ingress["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/proxy-body-size")
        if report.check(annotation is not None, f"{ing_where}: no nginx.ingress.kubernetes.io/proxy-body-size"):
            limit = int(settings.get("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
            report.check(
                parse_nginx_size(annotation) == limit,
                f"{ing_where}: proxy-body-size {annotation!r} differs from MAX_BODY_BYTES ({limit})",
            )

        # The live stream: events pass through unbuffered, and an idle stream outlives a keep-alive.
        annotations = ingress["metadata"].get("annotations") or {}
        report.check(
            annotations.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off",
            f"{ing_where}: proxy-buffering must be \"off\" for GET /api/tickets/stream",
        )
        keep_alive = parse_duration_seconds(settings.get("LIVE_KEEP_ALIVE", "15s"))
        for timeout_key in ("proxy-read-timeout", "proxy-send-timeout"):
            raw = annotations.get(f"nginx.ingress.kubernetes.io/{timeout_key}", "60")
            report.check(
                keep_alive is not None and raw.isdigit() and int(raw) > 2 * keep_alive,
                f"{ing_where}: {timeout_key} {raw!r}s must be well above LIVE_KEEP_ALIVE ({keep_alive}s)",
            )

    # Autoscaling keeps at least two pods.
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    report.check(bool(hpas), "no HorizontalPodAutoscaler")
    for hpa_file, hpa in hpas:
        hpa_where = f"{hpa_file}: {describe(hpa)}"
        target = hpa["spec"]["scaleTargetRef"]
        report.check(
            target.get("kind") == "Deployment" and target.get("name") == name,
            f"{hpa_where}: scaleTargetRef must be Deployment/{name}",
        )
        minimum = hpa["spec"].get("minReplicas", 1)
        report.check(minimum >= 2, f"{hpa_where}: minReplicas must be at least 2, found {minimum}")
        report.check(hpa["spec"]["maxReplicas"] >= minimum, f"{hpa_where}: maxReplicas is below minReplicas")

    # A disruption budget guards the pods, and still lets a node drain.
    pdbs = [
        (f, d)
        for f, d in by_kind.get("PodDisruptionBudget", [])
        if selects((d["spec"].get("selector") or {}).get("matchLabels"), pod_labels)
    ]
    if report.check(bool(pdbs), "no PodDisruptionBudget selects the Deployment's pods (via selector.matchLabels)"):
        for pdb_file, pdb in pdbs:
            minimum = pdb["spec"].get("minAvailable")
            if isinstance(minimum, int):
                report.check(
                    minimum < replicas,
                    f"{pdb_file}: {describe(pdb)}: minAvailable {minimum} leaves no pod evictable at {replicas} replicas",
                )


def check_rendered(k8s: Path, report: Report) -> None:
    """With kubectl on PATH: `kubectl kustomize` must build, and what it builds must validate too."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("skip kustomize build: kubectl not found")
        return
    built = subprocess.run([kubectl, "kustomize", str(k8s)], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        report.fail(f"kubectl kustomize deploy/k8s failed: {built.stderr.strip()}")
        print("FAIL kustomize build")
        return
    before = len(report.failures)
    rendered = [doc for doc in yaml.safe_load_all(built.stdout) if doc is not None]
    for doc in rendered:
        if validate_document(doc, "kustomize build", report) and doc["kind"] != "Namespace":
            namespace = doc["metadata"].get("namespace")
            report.check(namespace == NAMESPACE, f"kustomize build: {describe(doc)} lands in namespace {namespace!r}")
    status = "ok  " if len(report.failures) == before else "FAIL"
    print(f"{status} kustomize build: {len(rendered)} objects")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parent.parent
    k8s = root / "deploy" / "k8s"
    kustomization_path = k8s / "kustomization.yaml"
    if not kustomization_path.is_file():
        print(f"error: {kustomization_path} not found (is {root} the repository root?)", file=sys.stderr)
        return 2

    report = Report()
    print(
        f"checking {k8s} against Kubernetes {KUBERNETES_VERSION} (kubernetes-validate {kubernetes_validate.__version__}, strict)"
    )
    try:
        kustomization = yaml.safe_load(kustomization_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        print(f"FAIL deploy/k8s/kustomization.yaml: not YAML: {err}")
        return 1
    files = check_listing(k8s, kustomization, report)

    docs: list[tuple[str, dict[str, Any]]] = []
    schemas_pass = True
    for name in files:
        where = f"deploy/k8s/{name}"
        before = len(report.failures)
        try:
            file_docs = load_documents(k8s / name)
        except yaml.YAMLError as err:
            report.fail(f"{where}: not YAML: {err}")
            file_docs = []
        report.check(bool(file_docs) or len(report.failures) > before, f"{where}: holds no documents")
        for index, doc in enumerate(file_docs):
            if validate_document(doc, f"{where} (document {index + 1})", report):
                docs.append((where, doc))
        objects = ", ".join(describe(doc) for doc in file_docs if isinstance(doc, dict))
        status = "ok  " if len(report.failures) == before else "FAIL"
        schemas_pass = schemas_pass and status == "ok  "
        print(f"{status} {where}: {objects}")

    # The rules read fields the schemas guarantee; judge them only when every document is valid.
    if schemas_pass:
        check_rules(docs, k8s, report)
    check_rendered(k8s, report)

    if report.failures:
        print(f"\n{len(report.failures)} problem(s):")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    print("all manifests valid; production rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
