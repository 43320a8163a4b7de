"""An HTTP double of Alibaba OSS, for the ``oss://`` tests (no OSS server can be installed here).

It speaks the native OSS API the way oss2 2.19 uses it (TEST_SERVERS.md section 4), and it is
strict where our guarantees depend on the server:

* every request must carry a valid V1 signature (``Authorization: OSS ak:sig``), else 403
  ``SignatureDoesNotMatch`` / ``InvalidAccessKeyId``, so wrong credentials really fail;
* ``x-oss-forbid-overwrite: true`` on PUT refuses an existing key with 409 ``FileAlreadyExists``,
  atomically (one lock around check and store), except on a bucket with versioning, where
  OSS documents that the header has no effect;
* ETags are the quoted upper-case MD5, ``x-oss-hash-crc64ecma`` is the real CRC-64/ECMA so
  oss2's CRC check runs;
* ``ListObjectsV2`` pages (``max-keys`` up to 1000, ``continuation-token``, url encoding);
* HEAD errors travel base64-encoded in ``x-oss-err``, as OSS does.

It is not OSS: no ACL checks, no multipart, no stored versions (``set_versioning`` only flips
the bucket's status and its effect on the header), path-style addressing only (oss2 uses it
for IP endpoints). ``fail_next`` injects server errors to test retries.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

import crcmod

# The query parameters OSS includes in the string to sign (a subset of oss2's list that
# covers every request this double serves); everything else, e.g. ``prefix``, is unsigned.
SIGNED_SUBRESOURCES = frozenset(
    {"acl", "append", "bucketInfo", "continuation-token", "delete", "location", "objectMeta",
     "partNumber", "position", "security-token", "stat", "symlink", "tagging", "uploadId",
     "uploads", "versionId", "versioning", "versions"}
)
MAX_KEYS_LIMIT = 1000
_crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


@dataclass
class StoredObject:
    data: bytes
    etag: str  # upper-case hex MD5, unquoted
    modified: float
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)  # x-oss-meta-* (names lower-case)


@dataclass
class OssState:
    credentials: dict[str, str]
    buckets: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    versioning: dict[str, str] = field(default_factory=dict)  # bucket -> Enabled/Suspended
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, query
    pending_failures: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error_xml(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:24].upper()}</RequestId><HostId>127.0.0.1</HostId></Error>"
    ).encode()


class OssError(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message or code


def string_to_sign(
    method: str, headers: Iterable[tuple[str, str]], bucket: str, key: str,
    params: list[tuple[str, str]],
) -> str:
    """OSS V1: verb, Content-MD5, Content-Type, Date, x-oss-* headers, canonical resource."""
    lowered: dict[str, str] = {}
    for name, value in headers:
        lowered[name.lower()] = value.strip()
    oss_headers = "".join(
        f"{k}:{v}\n" for k, v in sorted(lowered.items()) if k.startswith("x-oss-")
    )
    resource = f"/{bucket}/{key}" if bucket else "/"
    signed = sorted((k, v) for k, v in params if k in SIGNED_SUBRESOURCES)
    if signed:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in signed)
    return "\n".join(
        [method, lowered.get("content-md5", ""), lowered.get("content-type", ""),
         lowered.get("date", ""), oss_headers + resource]
    )


def _handler(state: OssState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(
            self, status: int, headers: dict[str, str] | None = None, body: bytes = b""
        ) -> None:
            self.send_response(status)
            merged = {
                "x-oss-request-id": uuid.uuid4().hex[:24].upper(),
                "Server": "AliyunOSS",
                "Date": email.utils.formatdate(usegmt=True),
                "Content-Length": str(len(body)),
            }
            merged.update(headers or {})
            for name, value in merged.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _fail(self, error: OssError) -> None:
            body = _error_xml(error.code, error.message)
            headers = {"Content-Type": "application/xml"}
            if self.command == "HEAD":
                headers["x-oss-err"] = base64.b64encode(body).decode()
                body = b""
            self._reply(error.status, headers, body)

        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            params = parse_qsl(split.query, keep_blank_values=True)
            bucket, _, raw_key = split.path.lstrip("/").partition("/")
            key = unquote(raw_key)
            body = self._read_body()
            with state.lock:
                state.requests.append((self.command, split.path, split.query))
                injected = state.pending_failures.pop(0) if state.pending_failures else None
            try:
                if injected is not None:
                    raise OssError(injected, "InternalError", "injected failure")
                self._authenticate(bucket, key, params)
                self._serve(bucket, key, dict(params), body)
            except OssError as error:
                self._fail(error)

        def _read_body(self) -> bytes:
            """The request body, also when chunked: requests sends an empty stream that way
            (oss2 wraps bodies in a stream), and unread chunks would poison the connection."""
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()

        def _authenticate(self, bucket: str, key: str, params: list[tuple[str, str]]) -> None:
            authorization = self.headers.get("Authorization", "")
            if not authorization.startswith("OSS ") or ":" not in authorization:
                raise OssError(403, "AccessDenied", "only OSS V1 signatures are understood")
            access_key, signature = authorization[4:].rsplit(":", 1)
            secret = state.credentials.get(access_key)
            if secret is None:
                raise OssError(403, "InvalidAccessKeyId", "The OSS Access Key Id does not exist.")
            text = string_to_sign(self.command, self.headers.items(), bucket, key, params)
            digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
            if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
                raise OssError(403, "SignatureDoesNotMatch", "signature mismatch")

        def _bucket(self, name: str) -> dict[str, StoredObject]:
            objects = state.buckets.get(name)
            if objects is None:
                raise OssError(404, "NoSuchBucket", "The specified bucket does not exist.")
            return objects

        def _serve(self, bucket: str, key: str, params: dict[str, str], body: bytes) -> None:
            if not bucket:
                raise OssError(400, "InvalidArgument", "virtual-host addressing is not served")
            if not key:
                if self.command == "PUT":
                    with state.lock:
                        state.buckets.setdefault(bucket, {})
                    self._reply(200)
                elif self.command == "GET" and params.get("list-type") == "2":
                    self._list_v2(bucket, params)
                elif self.command == "GET" and "versioning" in params:
                    with state.lock:
                        self._bucket(bucket)
                        status = state.versioning.get(bucket)
                    inner = f"<Status>{status}</Status>" if status else ""
                    xml = f"<VersioningConfiguration>{inner}</VersioningConfiguration>"
                    self._reply(200, {"Content-Type": "application/xml"}, xml.encode())
                else:
                    raise OssError(405, "MethodNotAllowed", "not served by the double")
            elif self.command == "PUT":
                self._put(bucket, key, body)
            elif self.command in ("GET", "HEAD"):
                with state.lock:
                    found = self._bucket(bucket).get(key)
                if found is None:
                    raise OssError(404, "NoSuchKey", "The specified key does not exist.")
                self._reply(200, _object_headers(found), found.data)
            elif self.command == "DELETE":
                with state.lock:
                    self._bucket(bucket).pop(key, None)
                self._reply(204)
            else:
                raise OssError(405, "MethodNotAllowed", "not served by the double")

        def _put(self, bucket: str, key: str, body: bytes) -> None:
            # OSS documents that the header has no effect once versioning is enabled/suspended.
            forbid = (self.headers.get("x-oss-forbid-overwrite", "").lower() == "true"
                      and bucket not in state.versioning)
            stored = StoredObject(
                data=body,
                etag=hashlib.md5(body, usedforsecurity=False).hexdigest().upper(),
                modified=time.time(),
                content_type=self.headers.get("Content-Type", "application/octet-stream"),
                metadata={name.lower(): value for name, value in self.headers.items()
                          if name.lower().startswith("x-oss-meta-")},
            )
            with state.lock:
                objects = self._bucket(bucket)
                if forbid and key in objects:
                    raise OssError(409, "FileAlreadyExists", "The object already exists.")
                objects[key] = stored
            crc = str(_crc64(body))
            self._reply(200, {"ETag": f'"{stored.etag}"', "x-oss-hash-crc64ecma": crc})

        def _list_v2(self, bucket: str, params: dict[str, str]) -> None:
            prefix = params.get("prefix", "")
            start = params.get("continuation-token") or params.get("start-after", "")
            try:
                max_keys = int(params.get("max-keys") or 100)
            except ValueError:
                raise OssError(400, "InvalidArgument", "max-keys is not a number") from None
            if not 0 < max_keys <= MAX_KEYS_LIMIT:
                raise OssError(400, "InvalidArgument", "max-keys out of range")
            with state.lock:
                chosen = sorted(
                    (k, o) for k, o in self._bucket(bucket).items()
                    if k.startswith(prefix) and k > start
                )
            page, truncated = chosen[:max_keys], len(chosen) > max_keys
            url_encoded = params.get("encoding-type") == "url"

            def enc(text: str) -> str:
                return escape(quote(text, safe="/") if url_encoded else text)

            contents = "".join(
                f"<Contents><Key>{enc(k)}</Key><LastModified>{_iso(o.modified)}</LastModified>"
                f'<ETag>"{o.etag}"</ETag><Type>Normal</Type><Size>{len(o.data)}</Size>'
                "<StorageClass>Standard</StorageClass></Contents>"
                for k, o in page
            )
            token = (
                f"<NextContinuationToken>{enc(page[-1][0])}</NextContinuationToken>"
                if truncated else ""
            )
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
                f"<Name>{escape(bucket)}</Name><Prefix>{enc(prefix)}</Prefix>"
                f"<MaxKeys>{max_keys}</MaxKeys><Delimiter></Delimiter>"
                + ("<EncodingType>url</EncodingType>" if url_encoded else "")
                + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
                f"<KeyCount>{len(page)}</KeyCount>{token}{contents}</ListBucketResult>"
            )
            self._reply(200, {"Content-Type": "application/xml"}, xml.encode())

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _dispatch

    return Handler


def _object_headers(found: StoredObject) -> dict[str, str]:
    return {
        "ETag": f'"{found.etag}"',
        "Content-Type": found.content_type,
        "Last-Modified": email.utils.formatdate(found.modified, usegmt=True),
        "x-oss-object-type": "Normal",
        "x-oss-hash-crc64ecma": str(_crc64(found.data)),
        **found.metadata,
    }


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stamp))


class OssDouble:
    """``with OssDouble({"ak": "sk"}) as oss: oss.endpoint`` -> ``http://127.0.0.1:PORT``."""

    def __init__(self, credentials: dict[str, str]) -> None:
        self.state = OssState(credentials=dict(credentials))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> OssDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> OssDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def create_bucket(self, name: str) -> None:
        with self.state.lock:
            self.state.buckets.setdefault(name, {})

    def set_versioning(self, bucket: str, status: str) -> None:
        """``Enabled`` or ``Suspended``: from then on x-oss-forbid-overwrite is ignored."""
        with self.state.lock:
            self.state.versioning[bucket] = status

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` requests get ``status`` (before auth), like an overloaded OSS."""
        with self.state.lock:
            self.state.pending_failures.extend([status] * count)
