"""An HTTP double of the Kubernetes API server, for the ``k8s://`` tests.

No kube-apiserver can be installed on this machine (TEST_SERVERS.md section 5), and kmock
has no resourceVersion and answers 500 where the server answers 404/409. This double serves
only what the kops API needs, with the API server's rules for it:

* the custom-resource paths of ``kops.k8s.io/v1alpha2`` ``clusters`` and ``instancegroups``
  (namespaced get/create/replace/delete, list per namespace and across namespaces with
  ``limit``/``continue``), plus namespaces and ConfigMaps from ``/api/v1``;
* one global, increasing ``resourceVersion``; ``uid``, ``creationTimestamp``,
  ``managedFields`` and ``generation`` (bumped when ``spec`` changes) set by the server;
* replace with a stale ``resourceVersion``: 409 ``Conflict``; a custom-resource replace
  without one: 422 ``Invalid`` (ConfigMaps may be replaced unconditionally, as on a real
  server); delete with ``preconditions.resourceVersion`` that no longer matches: 409;
* create of an existing name: 409 ``AlreadyExists``; in a missing namespace: 404;
  anything missing: 404 ``NotFound``; all as ``Status`` objects;
* object names must be RFC 1123 subdomains, namespace names RFC 1123 labels (63 at most):
  422 ``Invalid`` otherwise, worded as the real server words it;
* ``kops.k8s.io`` is served only once its CRDs are installed (POST
  ``customresourcedefinitions``; 404 before): a CRD in a ``*.k8s.io`` group without the
  ``api-approved.kubernetes.io`` annotation is refused (422); objects are pruned to the CRD's
  schema on create and replace (unknown fields dropped silently), as the real server does;
* a bearer token is required (401 ``Unauthorized`` otherwise).

Not served: watch, patch, field/label selectors, admission, schema validation.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KOPS_GROUP_VERSION = "kops.k8s.io/v1alpha2"
KINDS = {
    "clusters": ("Cluster", KOPS_GROUP_VERSION),
    "instancegroups": ("InstanceGroup", KOPS_GROUP_VERSION),
    "configmaps": ("ConfigMap", "v1"),
}
_PATHS = [
    re.compile(r"^/apis/kops\.k8s\.io/v1alpha2/(?P<plural>clusters|instancegroups)$"),
    re.compile(r"^/apis/kops\.k8s\.io/v1alpha2/namespaces/(?P<ns>[^/]+)/"
               r"(?P<plural>clusters|instancegroups)(?:/(?P<name>[^/]+))?$"),
    re.compile(r"^/api/v1/(?P<plural>configmaps)$"),
    re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>configmaps)(?:/(?P<name>[^/]+))?$"),
    re.compile(r"^/api/v1/(?P<plural>namespaces)(?:/(?P<name>[^/]+))?$"),
    re.compile(r"^/apis/apiextensions\.k8s\.io/v1/(?P<plural>customresourcedefinitions)$"),
]
_APPROVAL = "api-approved.kubernetes.io"


class ApiError(Exception):
    def __init__(
        self, code: int, reason: str, message: str, name: str = "", kind: str = ""
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = {"name": name, "kind": kind} if name or kind else {}

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": self.details,
                "code": self.code}


@dataclass
class ApiState:
    token: str
    namespaces: set[str] = field(default_factory=lambda: {"default", "kube-system"})
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # plural -> openAPIV3Schema of the kops CRDs installed (kept by reset(), as on a server)
    crds: dict[str, dict[str, Any]] = field(default_factory=dict)
    crd_names: set[str] = field(default_factory=set)
    versions: Any = field(default_factory=lambda: itertools.count(1000))
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_version(self) -> str:
        return str(next(self.versions))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_found(plural: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{plural} "{name}" not found', name, plural)


# What kube-apiserver accepts as an object name (a namespace name is a label: one part, 63).
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _prune(value: Any, schema: dict[str, Any]) -> Any:
    """What the API server keeps of ``value`` under a structural schema: fields the schema
    does not list are dropped silently (unless it preserves unknown fields)."""
    props = schema.get("properties")
    if isinstance(value, dict):
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
        extra = schema.get("additionalProperties")
        if isinstance(props, dict):
            return {k: _prune(v, props[k]) if k in props else v for k, v in value.items()
                    if k in props or keep_unknown}
        if isinstance(extra, dict):
            return {k: _prune(v, extra) for k, v in value.items()}
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(v, schema["items"]) for v in value]
    return value


def _check_name(plural: str, name: str) -> None:
    """422 Invalid, worded as the real server words it, for a name it would refuse."""
    if plural == "namespaces":
        invalid = f'Namespace "{name}" is invalid: metadata.name: Invalid value: "{name}": '
        if len(name) > 63:
            raise ApiError(422, "Invalid", invalid + "must be no more than 63 characters",
                           name, plural)
        if not _LABEL.fullmatch(name):
            raise ApiError(422, "Invalid", invalid + "a lowercase RFC 1123 label must consist "
                           "of lower case alphanumeric characters or '-'", name, plural)
    elif len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise ApiError(422, "Invalid", f'{plural} "{name}" is invalid: metadata.name: Invalid '
                       f'value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                       "case alphanumeric characters, '-' or '.'", name, plural)


class _Api:
    """The rules, separate from HTTP: every method runs under ``state.lock``."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any]:
        found = self.state.objects.get((plural, ns, name))
        if found is None:
            raise _not_found(plural, name)
        return found

    def list(self, plural: str, ns: str | None, query: dict[str, list[str]]) -> dict[str, Any]:
        chosen = sorted(
            (key, obj) for key, obj in self.state.objects.items()
            if key[0] == plural and (ns is None or key[1] == ns)
        )
        start = query.get("continue", [""])[0]
        if start:
            after = tuple(json.loads(base64.urlsafe_b64decode(start)))
            chosen = [(key, obj) for key, obj in chosen if key[1:] > after]
        limit = int(query.get("limit", ["0"])[0] or 0)
        more = bool(limit) and len(chosen) > limit
        page = chosen[:limit] if limit else chosen
        meta: dict[str, Any] = {"resourceVersion": str(next(self.state.versions))}
        if more:
            last = json.dumps(page[-1][0][1:]).encode()
            meta["continue"] = base64.urlsafe_b64encode(last).decode()
        kind, api_version = KINDS[plural]
        return {"apiVersion": api_version, "kind": f"{kind}List", "metadata": meta,
                "items": [obj for _key, obj in page]}

    def _check_body(self, plural: str, ns: str, body: Any, name: str | None) -> dict[str, Any]:
        kind, api_version = KINDS[plural]
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise ApiError(400, "BadRequest", "the body is not an object with metadata")
        # Like the real server, a body may leave kind and apiVersion out, never contradict.
        if (body.get("kind", kind), body.get("apiVersion", api_version)) != (kind, api_version):
            raise ApiError(400, "BadRequest",
                           f"the API version in the data ({body.get('apiVersion')}) and kind "
                           f"({body.get('kind')}) do not match {api_version} {kind}")
        body_ns = body["metadata"].get("namespace")
        if body_ns not in (None, ns):
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the URL")
        if name is not None and body["metadata"].get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
        return body

    def create(self, plural: str, ns: str, body: Any) -> dict[str, Any]:
        if ns not in self.state.namespaces:
            raise _not_found("namespaces", ns)
        body = self._check_body(plural, ns, body, None)
        name = str(body["metadata"].get("name") or "")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value", kind=plural)
        _check_name(plural, name)
        if (plural, ns, name) in self.state.objects:
            raise ApiError(409, "AlreadyExists", f'{plural} "{name}" already exists', name, plural)
        stored = self._prune(plural, json.loads(json.dumps(body)))
        stored["metadata"].update(
            namespace=ns, uid=str(uuid.uuid4()), resourceVersion=self.state.next_version(),
            creationTimestamp=_now(), generation=1,
            managedFields=[{"manager": "kops-gitsync-test", "operation": "Update", "time": _now()}],
        )
        self.state.objects[(plural, ns, name)] = stored
        return stored

    def replace(self, plural: str, ns: str, name: str, body: Any) -> dict[str, Any]:
        current = self.get(plural, ns, name)
        body = self._check_body(plural, ns, body, name)
        asked = body["metadata"].get("resourceVersion")
        if not asked and plural != "configmaps":
            raise ApiError(422, "Invalid", "metadata.resourceVersion: Invalid value: 0x0: "
                           "must be specified for an update", name, plural)
        if asked and asked != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": '
                           "the object has been modified; please apply your changes to the "
                           "latest version and try again", name, plural)
        stored = self._prune(plural, json.loads(json.dumps(body)))
        kept = {k: current["metadata"][k] for k in ("uid", "creationTimestamp", "managedFields")}
        generation = current["metadata"]["generation"]
        if stored.get("spec") != current.get("spec"):
            generation += 1
        stored["metadata"].update(kept, namespace=ns, generation=generation,
                                  resourceVersion=self.state.next_version())
        self.state.objects[(plural, ns, name)] = stored
        return stored

    def delete(self, plural: str, ns: str, name: str, body: Any) -> dict[str, Any]:
        current = self.get(plural, ns, name)
        wanted = ((body or {}).get("preconditions") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "Precondition failed: ResourceVersion in precondition: "
                           f"{wanted}, ResourceVersion in object meta: "
                           f"{current['metadata']['resourceVersion']}", name, plural)
        del self.state.objects[(plural, ns, name)]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": plural, "uid": current["metadata"]["uid"]}}

    def _prune(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        schema = self.state.crds.get(plural)
        if schema is None:
            return obj
        pruned: dict[str, Any] = _prune(obj, schema)
        pruned["metadata"] = obj["metadata"]
        return pruned

    def create_crd(self, body: Any) -> dict[str, Any]:
        """Install a CRD; a kops.k8s.io one makes its plural served, with its schema."""
        meta = (body or {}).get("metadata") or {}
        spec = (body or {}).get("spec") or {}
        name, group = str(meta.get("name") or ""), str(spec.get("group") or "")
        kind = "CustomResourceDefinition.apiextensions.k8s.io"
        protected = any(group == g or group.endswith("." + g) for g in ("k8s.io", "kubernetes.io"))
        if protected and _APPROVAL not in (meta.get("annotations") or {}):
            raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: metadata.annotations'
                           f'[{_APPROVAL}]: Required value: protected groups must have approval '
                           f'annotation "{_APPROVAL}", see '
                           "https://github.com/kubernetes/enhancements/pull/1111",
                           name, "customresourcedefinitions")
        if name in self.state.crd_names:
            raise ApiError(409, "AlreadyExists", f'{kind} "{name}" already exists',
                           name, "customresourcedefinitions")
        self.state.crd_names.add(name)
        plural = str((spec.get("names") or {}).get("plural") or "")
        for version in spec.get("versions") or []:
            if group == "kops.k8s.io" and version.get("name") == "v1alpha2" and plural in KINDS:
                self.state.crds[plural] = version["schema"]["openAPIV3Schema"]
        created: dict[str, Any] = json.loads(json.dumps(body))
        created["metadata"].update(uid=str(uuid.uuid4()), resourceVersion=self.state.next_version())
        return created

    def namespace(self, method: str, name: str | None, body: Any) -> dict[str, Any]:
        if method == "POST":
            name = str(((body or {}).get("metadata") or {}).get("name") or "")
            _check_name("namespaces", name)
            if name in self.state.namespaces:
                raise ApiError(409, "AlreadyExists", f'namespaces "{name}" already exists',
                               name, "namespaces")
            self.state.namespaces.add(name)
        elif method != "GET" or name is None or name not in self.state.namespaces:
            raise _not_found("namespaces", name or "")
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                "status": {"phase": "Active"}}


def _handler(state: ApiState) -> type[BaseHTTPRequestHandler]:
    api = _Api(state)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(self, code: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append((self.command, split.path))
            try:
                if self.headers.get("Authorization", "") != f"Bearer {state.token}":
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                body = json.loads(raw) if raw else None
                with state.lock:
                    code, doc = self._route(split.path, parse_qs(split.query), body)
                self._reply(code, doc)
            except json.JSONDecodeError:
                self._reply(400, ApiError(400, "BadRequest", "the body is not JSON").status())
            except ApiError as error:
                self._reply(error.code, error.status())

        def _route(
            self, path: str, query: dict[str, list[str]], body: Any
        ) -> tuple[int, dict[str, Any]]:
            for pattern in _PATHS:
                match = pattern.match(path)
                if match:
                    break
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            groups = match.groupdict()
            plural, ns, name = groups["plural"], groups.get("ns"), groups.get("name")
            method = self.command
            if plural == "namespaces":
                return (201 if method == "POST" else 200), api.namespace(method, name, body)
            if plural == "customresourcedefinitions" and method == "POST":
                return 201, api.create_crd(body)
            if plural in ("clusters", "instancegroups") and plural not in state.crds:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if ns is None or name is None:
                if method == "GET":
                    return 200, api.list(plural, ns, query)
                if method == "POST" and ns is not None:
                    return 201, api.create(plural, ns, body)
            elif method == "GET":
                return 200, api.get(plural, ns, name)
            elif method == "PUT":
                return 200, api.replace(plural, ns, name, body)
            elif method == "DELETE":
                return 200, api.delete(plural, ns, name, body)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not served here")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    return Handler


class KubeApiServerDouble:
    """``with KubeApiServerDouble("token") as api: api.url`` -> ``http://127.0.0.1:PORT``."""

    def __init__(self, token: str) -> None:
        self.state = ApiState(token=token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> KubeApiServerDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def reset(self) -> None:
        with self.state.lock:
            self.state.objects.clear()
            self.state.namespaces = {"default", "kube-system"}
            self.state.requests.clear()
