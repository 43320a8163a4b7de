"""The read-only status page (``/``): the daemon's state document as one HTML table.

Every value is escaped, because almost every value is someone else's text: store URLs,
error messages quoting object keys read from the store, lock holders written by other
processes. The page has no script and loads nothing (the server's Content-Security-Policy
is ``default-src 'none'`` with inline style only), so it can be opened from a port-forward
or a kubectl proxy without trusting anything. It refreshes itself every 10 seconds.
"""

from __future__ import annotations

from html import escape
from typing import Any

REFRESH_SECONDS = 10
COLUMNS = ("store", "url", "owner", "lease / lock holder", "last pull", "pending push",
           "conflict", "last error")
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; }
dt { color: #666; } dd { margin: 0; }
td.text { white-space: pre-wrap; font-family: monospace; font-size: 0.9em; }
.bad { color: #a00; }
"""


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else escape(str(value), quote=True)


def _cell(value: Any, css: str | None = None, title: Any = None) -> str:
    attrs = f' class="{css}"' if css else ""
    if title:
        attrs += f' title="{_text(title)}"'
    return f"<td{attrs}>{_text(value)}</td>"


def _lease(store: dict[str, Any]) -> str:
    lease, holder = store.get("lease"), store.get("lease_holder")
    return f"{lease}: {holder}" if holder else str(lease)


def _row(name: str, store: dict[str, Any]) -> str:
    pending = store.get("pending_push")
    error = store.get("last_error")
    if error and store.get("last_error_at"):
        error = f"{store['last_error_at']} ({store.get('failures')}x): {error}"
    cells = [
        _cell(name),
        _cell(store.get("url")),
        _cell(store.get("owner")),
        _cell(_lease(store)),
        _cell(store.get("last_pull"), title=store.get("last_pull_summary")),
        _cell(pending[:12] if isinstance(pending, str) else pending, title=pending),
        _cell(store.get("conflict"), "text bad" if store.get("conflict") else "text"),
        _cell(error, "text bad" if error else "text"),
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def render(data: dict[str, Any]) -> str:
    """The page for :meth:`DaemonState.to_json`'s document."""
    stores = data.get("stores") or {}
    header = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    rows = "\n".join(_row(name, store) for name, store in sorted(stores.items()))
    facts = [("host", data.get("host")), ("pid", data.get("pid")),
             ("activity", data.get("activity")), ("started", data.get("started")),
             ("state written", data.get("updated"))]
    if data.get("member") is not None:
        facts += [("member", data.get("member")),
                  ("live members", ", ".join(map(str, data.get("members") or []))),
                  ("API server answered", data.get("api_answered"))]
    summary = "".join(f"<dt>{escape(k)}</dt><dd>{_text(v)}</dd>" for k, v in facts)
    rejected = ""
    if data.get("config_error"):
        rejected = ('<p class="bad">Configuration reload rejected, the previous one runs: '
                    f"{_text(data['config_error'])}</p>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>kops-gitsync daemon</title>
<style>{STYLE}</style>
</head>
<body>
<h1>kops-gitsync daemon</h1>
<dl>{summary}</dl>
{rejected}
<table id="stores">
<thead><tr>{header}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""
