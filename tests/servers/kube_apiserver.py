"""A real Kubernetes API server (etcd + kube-apiserver on 127.0.0.1) for the k8s tests.

The binary comes from ``tests/servers/kube_apiserver_build.sh`` (Debian's ``kubernetes``
source package, built once and cached outside the repository; ``tests/run.sh`` runs it before
pytest). Without it, tests that need the real server skip with a line naming the script; when
``tests/run.sh`` exported ``KOPS_GITSYNC_KUBE_APISERVER`` the binary is required, so CI cannot
pass by skipping.

One server per session: etcd and kube-apiserver on free loopback ports, a CA and a serving
certificate made with the openssl CLI (``cryptography`` is not a dependency of the project),
a static token (group ``system:masters``) with RBAC on, and the kops CRDs installed. There is
no controller-manager, so deleted namespaces never finish deleting: ``reset()`` deletes the
kops objects and lock ConfigMaps instead, and tests that need namespaces make fresh ones.

No orphans: each process runs in its own process group, killed as a group at the end, and
under ``setpriv --pdeathsig`` so it dies with pytest even when pytest itself is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

STORE_FACTORIES: list[str] = []

BUILD_SCRIPT = "tests/servers/kube_apiserver_build.sh"
BINARY_VAR = "KOPS_GITSYNC_KUBE_APISERVER"
# Computed at import: the session fixtures below run after the autouse fixture that points
# HOME at a temporary directory.
CACHE = Path(
    os.environ.get("KOPS_GITSYNC_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kops-gitsync"
)
_BINARY_FROM_ENV = os.environ.get(BINARY_VAR)
TOKEN = "kops-gitsync-test-token"
CRDS = Path(__file__).parent.parent / "fixtures" / "crds"
# kube-apiserver refuses a CRD in a *.k8s.io group without this annotation (KEP 1111).
APPROVAL = {"api-approved.kubernetes.io": "unapproved, kops CRDs installed by kops-gitsync tests"}
READY_TIMEOUT = 180.0  # 9-16 s on an idle 2-core machine; much more when it is busy


def find_binary() -> Path | None:
    """The kube-apiserver to run: ``$KOPS_GITSYNC_KUBE_APISERVER``, else the newest cached."""
    if _BINARY_FROM_ENV:
        return Path(_BINARY_FROM_ENV)
    found = sorted(CACHE.glob("kube-apiserver-*/kube-apiserver"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(pki: Path) -> None:
    """CA, a serving certificate for 127.0.0.1/localhost, a service-account key pair."""
    pki.mkdir(parents=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "2", "-subj", "/CN=kops-gitsync-test-ca", cwd=pki)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key",
             "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver", cwd=pki)
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "apiserver.crt", "-days", "2", "-extfile", "san.ext",
             cwd=pki)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


class RealKubeApiServer:
    """``with RealKubeApiServer(binary) as api: api.url, api.ca_file, api.token``."""

    def __init__(self, binary: Path, token: str = TOKEN) -> None:
        self.binary = binary
        self.token = token
        self.dir = Path(tempfile.mkdtemp(prefix="kops-gitsync-kube-"))
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.ca_file = self.dir / "pki" / "ca.crt"
        self.ready_after = 0.0  # seconds from launch to /readyz 200, for docs/kubernetes.md
        self._procs: list[subprocess.Popen[bytes]] = []
        self._ssl: ssl.SSLContext | None = None

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("wb")
        try:
            proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", "--", *cmd], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir,
            )
        finally:
            log.close()
        self._procs.append(proc)
        return proc

    def start(self) -> RealKubeApiServer:
        make_pki(self.dir / "pki")
        pki = self.dir / "pki"
        (self.dir / "tokens.csv").write_text(
            f'{self.token},tester,uid-tester,"system:masters"\n'
            "other-token,intruder,uid-intruder,\n"
        )
        etcd_port, peer_port = free_port(), free_port()
        launched = time.monotonic()
        self._spawn("etcd", [
            "etcd", "--name", "kops-gitsync-test", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"kops-gitsync-test=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level", "error",
        ])
        self._spawn("kube-apiserver", [
            str(self.binary), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}", "--insecure-port=0",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}", f"--token-auth-file={self.dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.0.0.0/24", "--endpoint-reconciler-type=none",
            "--disable-admission-plugins=ServiceAccount", "--enable-priority-and-fairness=false",
            "--profiling=false", "-v=0",
        ])
        self._wait_ready(launched)
        self.install_crds()
        return self

    def _wait_ready(self, launched: float) -> None:
        deadline = launched + READY_TIMEOUT
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[4]} exited with {proc.returncode}: "
                                       f"{self.log_tail()}")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    self.ready_after = time.monotonic() - launched
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"kube-apiserver not ready in {READY_TIMEOUT:g} s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.dir / "kube-apiserver.log"
        lines = path.read_text(errors="replace").splitlines()[-5:] if path.exists() else []
        return " | ".join(lines)

    def pause(self) -> None:
        """Freeze kube-apiserver (SIGSTOP; etcd keeps running): clients connect and then wait,
        as behind a partitioned network. :meth:`resume` lets it answer again."""
        os.killpg(self._procs[-1].pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self._procs[-1].pid, signal.SIGCONT)

    def stop(self) -> None:
        for proc in reversed(self._procs):  # the API server before its etcd
            _kill_group(proc)
        self._procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RealKubeApiServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests ----------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """One authenticated request; ``(status, decoded JSON body)``, errors included."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as answer:
                raw, status = answer.read(), answer.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        try:
            decoded = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            decoded = {"text": raw.decode(errors="replace")}
        return status, decoded if isinstance(decoded, dict) else {"value": decoded}

    def install_crds(self) -> None:
        """The kops CRDs (:func:`kops_crds`), served once established."""
        for crd in kops_crds():
            status, answer = self.request("POST", CRD_PATH, crd)
            if status not in (201, 409):
                raise RuntimeError(f"installing {crd['metadata']['name']}: {status} "
                                   f"{answer.get('message')}")
        deadline = time.monotonic() + 60
        for plural in ("clusters", "instancegroups"):  # each CRD is established on its own
            while self.request("GET", f"/apis/kops.k8s.io/v1alpha2/{plural}")[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kops {plural} were not served within 60 s")
                time.sleep(0.2)

    def reset(self) -> None:
        """Delete every kops object and lock ConfigMap (namespaces cannot be deleted here)."""
        for plural in ("clusters", "instancegroups"):
            _status, found = self.request("GET", f"/apis/kops.k8s.io/v1alpha2/{plural}")
            for item in found.get("items") or []:
                meta = item["metadata"]
                self.request("DELETE", f"/apis/kops.k8s.io/v1alpha2/namespaces/"
                             f"{meta['namespace']}/{plural}/{meta['name']}")
        _status, found = self.request(
            "GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dkops-gitsync-lock")
        for item in found.get("items") or []:
            meta = item["metadata"]
            self.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/configmaps/"
                         f"{meta['name']}")


CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def kops_crds() -> list[dict[str, Any]]:
    """kops' CRDs (tests/fixtures/crds) as the tests install them, on the double too: with
    the approval annotation a *.k8s.io group needs, without what 1.20 refuses."""
    crds = []
    for path in sorted(CRDS.glob("*.yaml")):
        crd = _without_empty_defaults(yaml.safe_load(path.read_text()))
        crd["metadata"].setdefault("annotations", {}).update(APPROVAL)
        crds.append(crd)
    return crds


def _without_empty_defaults(node: Any) -> Any:
    """The schema without ``default: ""``, which 1.20 reads as null and refuses (422); kops'
    CRDs carry two (``configMapKeyRef.name``, ``secretKeyRef.name``), from newer API types."""
    if isinstance(node, dict):
        return {k: _without_empty_defaults(v) for k, v in node.items()
                if not (k == "default" and v == "")}
    if isinstance(node, list):
        return [_without_empty_defaults(v) for v in node]
    return node


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # a paused server cannot take SIGTERM
        os.killpg(proc.pid, signal.SIGCONT)
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def require_binary() -> Path:
    """The binary, or skip (fail when tests/run.sh promised one) with a one-line reason."""
    binary = find_binary()
    if binary is None or not os.access(binary, os.X_OK):
        reason = (f"no kube-apiserver built ({binary or CACHE / 'kube-apiserver-*'}): "
                  f"run bash {BUILD_SCRIPT} (tests/run.sh does)")
        if _BINARY_FROM_ENV:
            pytest.fail(reason)
        pytest.skip(reason)
    if shutil.which("etcd") is None:
        pytest.skip("no etcd: apt-get install etcd-server (tests/debian-packages.txt)")
    return binary


@pytest.fixture(scope="session")
def real_kube_api() -> Iterator[RealKubeApiServer]:
    """A real kube-apiserver with the kops CRDs, for the whole session."""
    with RealKubeApiServer(require_binary()) as api:
        yield api
