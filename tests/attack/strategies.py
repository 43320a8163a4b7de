"""Hypothesis strategies for what a hostile store, lock, journal or config can hold."""

from __future__ import annotations

import json
import math

from hypothesis import strategies as st

# Path segments that are instructions to git, escapes, or forge terminal output.
NASTY_SEGMENTS = [
    "..", ".", "", ".git", ".GIT", ".Git", ".gIt", ".gitattributes", ".GITATTRIBUTES",
    ".GitAttributes", ".gitignore", ".gitmodules", ".gitkeep", ".mailmap", ".MailMap", "git~1",
    "GIT~1", "a\nkops-gitsync pull: all good", "x\ry", "tab\there", "\x1b[31mred\x1b[0m",
    "del\x7f", "\u202eevil", "zero\u200bwidth", "nul\x00byte", "back\\slash", "c1\x85next",
    "x" * 256, "\u00e9" * 128, "\udcff\udcfe", "lone\ud800", "instancegroup", "config",
    "nodes", "c.example.com", "addons", "secrets", "pki", ".kops-gitsync.lock",
    "ok-name", " space ", "-dash",
]

segment = st.one_of(
    st.sampled_from(NASTY_SEGMENTS),
    st.text(min_size=0, max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40),
)


@st.composite
def store_keys(draw: st.DrawFn) -> str:
    parts = draw(st.lists(segment, min_size=1, max_size=5))
    key = "/".join(parts)
    if draw(st.booleans()) and draw(st.booleans()):
        key = "/" + key
    if draw(st.integers(0, 9)) == 0:
        key = key + "/" + "y" * draw(st.integers(900, 1200))
    return key


# A file-system name: no "/", no NUL, not "." or "..", at most 255 bytes; invalid UTF-8 allowed.
NASTY_NAMES = [
    b".git", b".GIT", b".gitattributes", b".GitIgnore", b".gitmodules", b".mailmap", b"git~1",
    b"a\nkops-gitsync pull: ok", b"\x1b]0;title\x07", b"\xff\xfe", b"caf\xe9", b"\xc0\xaf",
    b"\xed\xa0\x80", b"x" * 255, b"\xc3\xa9" * 127, b"back\\slash", b"\x7f", b"\xe2\x80\xae",
]
fs_name = st.one_of(
    st.sampled_from(NASTY_NAMES),
    st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_"))
    .filter(lambda b: b not in (b".", b"..")),
)


def yaml_bomb(levels: int, width: int) -> bytes:
    lines = ["a0: &a0 [lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def _nested(depth: int) -> bytes:
    return b"a: " + b"[" * depth + b"]" * depth + b"\n"


HEADER = b"apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: c.example.com\n"
object_bytes = st.one_of(
    st.just(yaml_bomb(10, 10)),
    st.just(HEADER + b"spec:\n  bomb: &x [1]\n" + yaml_bomb(9, 9)),
    st.just(_nested(50_000)),
    st.just(b"{" * 20_000),
    st.just(b'{"Data": ' + b"[" * 100_000),  # a kops secret's JSON, nested past recursion
    st.just(b'{"format": 1, "objects": ' + b"[" * 100_000),
    st.just(HEADER + b"spec:\n  nodes: \xff\xfe\n"),
    st.just(HEADER + b"spec:\n  x: \x00\x00\x00\n"),
    st.just(b"\x00" * 4096),
    st.just(HEADER + b"spec:\n" + b"".join(b"  k%d: &a%d v\n" % (i, i) for i in range(500))),
    st.just(HEADER + b"spec:\n  a: 1\n  a: 2\n"),
    st.just(HEADER + b"spec: !!python/object/apply:os.system ['touch /tmp/pwned']\n"),
    st.just(HEADER + b"spec:\n  long: " + b"x" * 2_000_000 + b"\n"),
    st.just(b"".join(b"k%d: v\n" % i for i in range(100_000))),
    st.just(b"---\n" * 10_000),
    st.just(b"apiVersion: kops.k8s.io/v1alpha2\nkind: [Cluster]\nmetadata: 5\n"),
    st.just(b"\xef\xbb\xbf" + HEADER),
    st.just(b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"),
    st.binary(max_size=2048),
    st.text(max_size=512).map(lambda t: HEADER + b"spec:\n  v: " + t.encode("utf-8", "replace")),
)

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
_LOCK_FIELDS = {"id": "x", "owner": "o", "host": "h", "pid": 1, "operation": "push main",
                "created": 0.0, "expires": 1e12}


@st.composite
def lock_doc(draw: st.DrawFn) -> dict[str, object]:
    doc: dict[str, object] = dict(_LOCK_FIELDS)
    for name in draw(st.lists(st.sampled_from(sorted(_LOCK_FIELDS)), max_size=3)):
        if draw(st.booleans()):
            doc.pop(name, None)
        else:
            doc[name] = draw(_json | st.sampled_from([math.nan, math.inf, -math.inf, 10**400]))
    return doc


lock_bytes = st.one_of(
    st.binary(max_size=200),
    _json.map(lambda v: json.dumps(v).encode()),
    lock_doc().map(lambda d: json.dumps(d).encode()),
    st.just(b"[" * 100_000),
    st.just(b'{"a":' * 50_000),
    st.just(b"\xff\xfe{}"),
    st.just(b'{"expires": NaN, "created": NaN}'),
    st.just(b"1" * 10_000),
)

journal_header = st.fixed_dictionaries(
    {},
    optional={
        "store": _json, "url": _json, "source_commit": _json, "branch": _json,
        "observed_tip": _json, "lock_id": _json,
        "entries": st.one_of(_json, st.lists(st.fixed_dictionaries(
            {}, optional={"op": st.sampled_from(["create", "update", "delete"]) | _json,
                          "key": st.sampled_from(["../../sibling/precious", "/etc/passwd",
                                                  "c.example.com/config", ".git/config"])
                          | _json,
                          "expect": _json, "sha256": _json, "blob": _json}), max_size=3)),
    },
)
journal_bytes = st.one_of(
    st.binary(max_size=300),
    st.just(b"[" * 100_000),
    st.just(b"\xff\xfe\n"),
    journal_header.map(lambda d: json.dumps(d).encode() + b"\n"),
    st.tuples(journal_header, st.lists(_json, max_size=3)).map(
        lambda t: b"\n".join(json.dumps(x).encode() for x in [t[0], *t[1]])),
    st.tuples(journal_header, st.binary(max_size=40)).map(
        lambda t: json.dumps(t[0]).encode() + b"\n" + t[1]),
)

config_text = st.one_of(
    st.binary(max_size=300),
    st.just(yaml_bomb(12, 10)),
    st.just(_nested(20_000)),
    st.just(b"stores:\n" + b"- name: s%d\n" % 1 * 3),
    st.just(b"stores:\n- name: x\n  path: ../sibling\n"),
    st.just(b"stores:\n- name: x\n  path: /tmp\n"),
    st.just(b"stores:\n- name: x\n  path: .git\n"),
    st.just(b"stores:\n- name: x\n  path: state/.GIT/hooks\n"),
    st.just(b"stores:\n- name: ../../x\n"),
    st.just(b"stores:\n- name: \"a\\nb\"\n"),
    st.just(b"stores:\n- name: x\n  max_object_size: .nan\n  interval: .inf\n"),
    st.just(b"stores:\n- name: x\n  max_delete: -5\n"),
    st.just(b"stores: !!python/object/apply:os.system ['touch /tmp/pwned']\n"),
    st.just(b"\xff\xfe\x00s\x00t\x00"),
    _json.map(lambda v: json.dumps({"stores": v}).encode()),
    st.dictionaries(
        st.sampled_from(["name", "path", "state", "production", "approved_branches", "include",
                         "exclude", "secrets", "max_delete", "push_derived", "auto_push",
                         "interval", "max_object_size", "bogus"]),
        _json, max_size=5,
    ).map(lambda d: json.dumps({"stores": [d]}).encode()),
)

_STATE_KEYS = st.sampled_from([
    "../../sibling/precious", "/etc/passwd", ".git/config", "minimal-aws.example.com/.git/x",
    "minimal-aws.example.com/config", "minimal-aws.example.com/instancegroup/nodes",
    "a\nb", "", "x/../../y", "minimal-aws.example.com/instancegroup/../../../z",
]) | st.text(max_size=20)
_record = st.fixed_dictionaries(
    {"version": _json, "size": _json | st.sampled_from([math.inf, -math.inf, math.nan, -1,
                                                         10**30, "12"]),
     "sha256": _json},
)


@st.composite
def sync_state_bytes(draw: st.DrawFn, url: str) -> bytes:
    """A sync state file as a hostile commit could hold it (the url right, so it is used)."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return b'{"format": 1, "url": ' + json.dumps(url).encode() + b', "objects": ' \
            + b"[" * 50_000
    doc: dict[str, object] = {"format": 1, "url": url,
                              "objects": draw(st.dictionaries(_STATE_KEYS, _record,
                                                              max_size=4)),
                              "withheld": draw(st.dictionaries(_STATE_KEYS, _json,
                                                               max_size=3))}
    if kind == 2:
        doc[draw(st.sampled_from(["format", "url", "objects", "withheld"]))] = draw(_json)
    return json.dumps(doc).encode()
