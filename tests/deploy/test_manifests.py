"""deploy/ (the kustomize base and overlays) rendered by kubectl and checked object by object,
then applied with server-side dry run to a real kube-apiserver (tests/servers/kube_apiserver.py),
and its RBAC asked with ``kubectl auth can-i`` as the daemon's ServiceAccount.

The real server is 1.20: it does not serve ``policy/v1`` PodDisruptionBudget (1.21+) and has
no Prometheus Operator CRD. Those kinds are listed in ``UNSERVED_ON_1_20``; the dry run checks
that exactly they are refused, and dry-runs the PodDisruptionBudget as ``policy/v1beta1`` (the
same fields) so its content is still checked by the server.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.render import (
    TARGETS,
    by_kind,
    kubectl_binary,
    one,
    operator_overlay,
    render,
    run,
)
from tests.servers.k8s import write_kubeconfig
from tests.servers.kube_apiserver import RealKubeApiServer

UID = 65532
REPO_URL = "ssh://git@git.example.org/platform/kops-state.git"
DAEMON_COMMAND = ["kops-gitsync", "daemon", "--repo", "/var/lib/kops-gitsync/repo",
                  "--membership", "kubernetes", "--metrics-port", "8080",
                  "--listen-address", "0.0.0.0", "--log-format", "json"]
UNSERVED_ON_1_20 = {("policy/v1", "PodDisruptionBudget"),
                    ("monitoring.coreos.com/v1", "ServiceMonitor")}
LABELS = {"app.kubernetes.io/name": "kops-gitsync", "app.kubernetes.io/component": "daemon"}
# An environment variable whose name says it holds a credential may only hold a path.
CREDENTIAL_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY|CREDENTIAL|PRIVATE", re.I)


@pytest.fixture(scope="module")
def kubectl() -> str:
    return kubectl_binary()


@pytest.fixture(scope="module")
def rendered(kubectl: str, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Each target rendered once, moved to namespace ``ops-gitsync`` by an operator overlay."""
    out = {}
    for target in TARGETS:
        where = tmp_path_factory.mktemp(target.replace("/", "-"))
        out[target] = render(kubectl, operator_overlay(where, target, "ops-gitsync", REPO_URL))
    return out


def pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def containers(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = pod_spec(objects)
    return [*spec.get("initContainers", []), *spec["containers"]]


# -- the rendered objects ---------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_lands_in_the_operators_namespace(rendered: Any, target: str) -> None:
    text, objects = rendered[target]
    assert "$(" not in text, "a kustomize variable was left unreplaced"
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            assert "namespace" not in obj["metadata"]
        else:
            assert obj["metadata"]["namespace"] == "ops-gitsync", obj["kind"]
        for subject in obj.get("subjects", []):  # kustomize 5 leaves these alone by itself
            assert subject == {"kind": "ServiceAccount", "name": "kops-gitsync",
                               "namespace": "ops-gitsync"}


@pytest.mark.parametrize("target", TARGETS)
def test_a_name_prefix_reaches_every_reference(kubectl: str, tmp_path: Path, target: str) -> None:
    """Two installations side by side (their ClusterRoles must differ): a ``namePrefix`` in
    the operator's overlay renames every object and every reference to one."""
    _text, objects = render(kubectl, operator_overlay(tmp_path, target, "team-b", REPO_URL,
                                                      name_prefix="team-b-"))
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert all(name.startswith("team-b-") for _kind, name in names)
    account = one(objects, "ServiceAccount")["metadata"]["name"]
    assert pod_spec(objects)["serviceAccountName"] == account
    for binding in [*by_kind(objects, "RoleBinding"), *by_kind(objects, "ClusterRoleBinding")]:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account,
                                        "namespace": "team-b"}]
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in names
    for container in containers(objects):
        for env in container["env"]:
            ref = env.get("valueFrom", {}).get("configMapKeyRef")
            assert ref is None or ("ConfigMap", ref["name"]) in names
    for volume in pod_spec(objects)["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in names


@pytest.mark.parametrize("target", TARGETS)
def test_pod_is_hardened(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"]["matchLabels"] == LABELS
    spec = pod_spec(objects)
    assert spec["securityContext"] == {
        "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID, "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["topologySpreadConstraints"] or spec["affinity"]["podAntiAffinity"]
    for constraint in spec["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"] == LABELS
    for container in containers(objects):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert context.get("privileged") is not True
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), container["name"]
        assert container["image"] == "kops-gitsync:latest"


@pytest.mark.parametrize("target", TARGETS)
def test_writable_places_are_size_limited_emptydirs(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    volumes = {v["name"]: v for v in pod_spec(objects)["volumes"]}
    for container in containers(objects):
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        for path in ("/tmp", "/var/lib/kops-gitsync"):
            assert volumes[mounts[path]["name"]]["emptyDir"]["sizeLimit"], (container["name"],
                                                                            path)
        for mount in mounts.values():  # everything else is mounted read-only
            if "emptyDir" not in volumes[mount["name"]]:
                assert mount.get("readOnly") is True, mount


@pytest.mark.parametrize("target", TARGETS)
def test_no_credential_in_environment(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    for container in containers(objects):
        assert "envFrom" not in container
        for env in container.get("env", []):
            source = env.get("valueFrom", {})
            assert "secretKeyRef" not in source, env
            if CREDENTIAL_NAME.search(env["name"]):
                assert env["value"].startswith("/"), env  # a path to a mounted file
    for secret in (v["secret"] for v in pod_spec(objects)["volumes"] if "secret" in v):
        assert secret["defaultMode"] == 0o400, secret


@pytest.mark.parametrize("target", TARGETS)
def test_daemon_command_probes_and_identity(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    daemon = next(c for c in pod_spec(objects)["containers"] if c["name"] == "daemon")
    assert daemon["command"] == DAEMON_COMMAND
    env = {e["name"]: e for e in daemon["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                        ("startupProbe", "/healthz")):
        assert daemon[probe]["httpGet"] == {"path": path, "port": "metrics"}
    assert daemon["ports"] == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize("target", TARGETS)
def test_token_and_ssh_key_only_where_needed(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    assert one(objects, "ServiceAccount")["automountServiceAccountToken"] is False
    spec = pod_spec(objects)
    assert spec["automountServiceAccountToken"] is False
    token_path = "/var/run/secrets/kubernetes.io/serviceaccount"
    for container in containers(objects):
        has_token = any(m["mountPath"] == token_path for m in container["volumeMounts"])
        assert has_token == (container["name"] == "daemon"), container["name"]
        ssh = {e["name"]: e.get("value", "") for e in container["env"]}["GIT_SSH_COMMAND"]
        assert "StrictHostKeyChecking=yes" in ssh
        assert "UserKnownHostsFile=/etc/kops-gitsync/ssh/known_hosts" in ssh
    ssh_volume = next(v for v in spec["volumes"] if v["name"] == "ssh")["secret"]
    assert ssh_volume["secretName"] == "kops-gitsync-ssh"


@pytest.mark.parametrize("target", TARGETS)
def test_clone_reads_the_generated_repo_url(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    (config,) = [c for c in by_kind(objects, "ConfigMap")
                 if c["metadata"]["name"].startswith("kops-gitsync-repo")]
    assert config["data"] == {"REPO_URL": REPO_URL}
    (clone,) = pod_spec(objects)["initContainers"]
    assert "git clone" in clone["command"][-1]
    ref = {e["name"]: e for e in clone["env"]}["REPO_URL"]["valueFrom"]["configMapKeyRef"]
    assert ref == {"name": config["metadata"]["name"], "key": "REPO_URL"}


@pytest.mark.parametrize("target", TARGETS)
def test_service_policy_and_budget(rendered: Any, target: str) -> None:
    objects = rendered[target][1]
    service = one(objects, "Service")
    assert service["spec"]["selector"] == LABELS
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == {"matchLabels": LABELS}
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert [p for rule in policy["ingress"] for p in rule["ports"]] == [
        {"port": 8080, "protocol": "TCP"}]
    assert all("to" not in rule or rule["to"] for rule in policy["egress"])
    egress = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert egress == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP"), (22, "TCP")}
    budget = one(objects, "PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"] == {"minAvailable": 1, "selector": {"matchLabels": LABELS}}


def rules(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [rule for role in by_kind(objects, kind) for rule in role["rules"]]


def test_base_rbac_is_leases_only(rendered: Any) -> None:
    objects = rendered["base"][1]
    assert not by_kind(objects, "ClusterRole") and not by_kind(objects, "ClusterRoleBinding")
    assert rules(objects, "Role") == [{
        "apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
        "verbs": ["get", "list", "watch", "create", "update", "delete"]}]


def test_overlays_add_only_their_kinds(rendered: Any) -> None:
    base = {(o["kind"], o["metadata"]["name"]) for o in rendered["base"][1]
            if o["kind"] != "ConfigMap"}
    store = rendered["overlays/k8s-store"][1]

    def added(target: str) -> set[tuple[str, str]]:
        return {(o["kind"], o["metadata"]["name"]) for o in rendered[target][1]
                if o["kind"] != "ConfigMap"} - base

    assert added("overlays/servicemonitor") == {("ServiceMonitor", "kops-gitsync")}
    assert added("overlays/cloud-files") == set()
    assert added("overlays/k8s-store") == {("Role", "kops-gitsync-store-lock"),
                            ("RoleBinding", "kops-gitsync-store-lock"),
                            ("ClusterRole", "kops-gitsync-kops-api"),
                            ("ClusterRoleBinding", "kops-gitsync-kops-api")}
    cluster_rules = rules(store, "ClusterRole")
    assert {g for r in cluster_rules for g in r["apiGroups"]} == {"kops.k8s.io", ""}
    assert {res for r in cluster_rules for res in r["resources"]} == {
        "clusters", "instancegroups", "namespaces"}
    kubeconfig = next(c for c in by_kind(store, "ConfigMap")
                      if c["metadata"]["name"].startswith("kops-gitsync-kubeconfig"))
    assert "token:" not in kubeconfig["data"]["kubeconfig"]  # a tokenFile path, no token
    monitor = one(rendered["overlays/servicemonitor"][1], "ServiceMonitor")
    service = one(rendered["overlays/servicemonitor"][1], "Service")
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


# -- on the real API server --------------------------------------------------------------------


@pytest.fixture
def namespace(real_kube_api: RealKubeApiServer) -> str:
    name = f"deploy-{uuid.uuid4().hex[:10]}"
    status, answer = real_kube_api.request("POST", "/api/v1/namespaces",
                                           {"metadata": {"name": name}})
    assert status == 201, answer
    return name


@pytest.fixture
def kubeconfig(real_kube_api: RealKubeApiServer, tmp_path: Path) -> Iterator[str]:
    yield str(write_kubeconfig(tmp_path / "kubeconfig", real_kube_api.url,
                               ca_file=real_kube_api.ca_file))


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects)


@pytest.mark.parametrize("target", TARGETS)
def test_server_side_dry_run(kubectl: str, kubeconfig: str, namespace: str, target: str,
                             tmp_path: Path) -> None:
    _text, objects = render(kubectl, operator_overlay(tmp_path / "ov", target, namespace,
                                                      REPO_URL))
    unserved = [o for o in objects if (o["apiVersion"], o["kind"]) in UNSERVED_ON_1_20]
    served = [o for o in objects if o not in unserved]
    apply = ("--kubeconfig", kubeconfig, "apply", "--server-side", "--dry-run=server",
             "-f", "-")
    done = run(kubectl, *apply, stdin=dump(served))
    for obj in served:
        assert f"{obj['metadata']['name']} serverside-applied" in done.stdout, obj["kind"]
    for obj in unserved:  # refused one by one, each for its kind, nothing else
        refused = run(kubectl, *apply, stdin=dump([obj]), check=False)
        assert refused.returncode != 0
        assert obj["kind"] in refused.stderr and "no matches for kind" in refused.stderr, (
            refused.stderr)
        if obj["kind"] == "PodDisruptionBudget":  # its fields, as 1.20 can check them
            run(kubectl, *apply, stdin=dump([{**obj, "apiVersion": "policy/v1beta1"}]))
    expected = {k for k in UNSERVED_ON_1_20 if k[1] != "ServiceMonitor"}
    if target == "overlays/servicemonitor":
        expected = set(UNSERVED_ON_1_20)
    assert {(o["apiVersion"], o["kind"]) for o in unserved} == expected


def can_i_as(kubectl: str, kubeconfig: str, namespace: str, *query: str,
             account: str = "kops-gitsync") -> bool:
    done = run(kubectl, "--kubeconfig", kubeconfig, "auth", "can-i", *query,
               f"--as=system:serviceaccount:{namespace}:{account}", check=False)
    assert done.stdout.strip() in ("yes", "no"), done.stderr
    return done.stdout.strip() == "yes"


def apply_rbac(kubectl: str, kubeconfig: str, objects: list[dict[str, Any]]) -> None:
    kinds = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    run(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", "-",
        stdin=dump([o for o in objects if o["kind"] in kinds]))


def test_base_rbac_on_the_server_is_least_privilege(kubectl: str, kubeconfig: str,
                                                    namespace: str, tmp_path: Path) -> None:
    _text, objects = render(kubectl, operator_overlay(tmp_path / "ov", "base", namespace,
                                                      REPO_URL))
    apply_rbac(kubectl, kubeconfig, objects)
    ns = ("-n", namespace)

    def can_i(*query: str) -> bool:
        return can_i_as(kubectl, kubeconfig, namespace, *query)

    for verb in ("get", "list", "watch", "create", "update", "delete"):
        assert can_i(verb, "leases.coordination.k8s.io", *ns), verb
    for query in (("patch", "leases.coordination.k8s.io"), ("get", "secrets"),
                  ("list", "secrets"), ("get", "configmaps"), ("create", "configmaps"),
                  ("list", "pods"), ("get", "deployments.apps"),
                  ("list", "clusters.kops.k8s.io")):
        assert not can_i(*query, *ns), query
    assert not can_i("list", "leases.coordination.k8s.io", "-n", "default")  # its own only


def test_k8s_store_rbac_on_the_server(kubectl: str, kubeconfig: str, namespace: str,
                                      tmp_path: Path) -> None:
    """With a name prefix too: the bindings must follow the renamed ServiceAccount."""
    _text, objects = render(kubectl, operator_overlay(tmp_path / "ov", "overlays/k8s-store",
                                                      namespace, REPO_URL, name_prefix="b-"))
    apply_rbac(kubectl, kubeconfig, objects)
    ns = ("-n", namespace)

    def can_i(*query: str) -> bool:
        return can_i_as(kubectl, kubeconfig, namespace, *query, account="b-kops-gitsync")

    assert can_i("update", "leases.coordination.k8s.io", *ns)
    assert can_i("get", "configmaps/kops-gitsync-lock", *ns)
    assert can_i("update", "configmaps/kops-gitsync-lock", *ns)
    assert can_i("create", "configmaps", *ns)
    assert not can_i("get", "configmaps/other", *ns)
    assert not can_i("list", "configmaps", *ns)
    assert not can_i("get", "secrets", *ns)
    assert not can_i("create", "configmaps", "-n", "default")
    for verb in ("get", "list", "create", "update", "delete"):
        for kind in ("clusters.kops.k8s.io", "instancegroups.kops.k8s.io"):
            assert can_i(verb, kind, "--all-namespaces")
    assert can_i("create", "namespaces")
    assert not can_i("delete", "namespaces")
    assert not can_i("list", "secrets", "--all-namespaces")


def test_clone_script_is_idempotent(rendered: Any, tmp_path: Path) -> None:
    """The init container's script, run with real git on a local repository (the volume
    moved to a temporary directory): it clones, keeps an existing clone (the volume outlives a
    container restart), and replaces a half-made one."""
    (clone,) = pod_spec(rendered["base"][1])["initContainers"]
    volume = tmp_path / "volume"
    volume.mkdir()
    script = clone["command"][-1].replace("/var/lib/kops-gitsync", str(volume))
    origin = tmp_path / "origin"
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "first"], check=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "REPO_URL": f"file://{origin}"}

    def run_script() -> None:
        subprocess.run([*clone["command"][:-1], script], env=env, check=True, timeout=60)

    (volume / "repo.partial").mkdir()  # a clone killed half-way
    (volume / "repo.partial" / "junk").write_text("x")
    run_script()
    assert (volume / "repo" / ".git").is_dir() and not (volume / "repo.partial").exists()
    (volume / "repo" / "local-change").write_text("kept")
    run_script()
    assert (volume / "repo" / "local-change").read_text() == "kept"
