"""The scanner is safe to call from many threads while detect-secrets is not yet imported.

Pull scans objects in 16 reader threads (sync/pull.py ``_read_all``), and the token rules
import detect-secrets' plugin modules on their first candidate. Two threads importing two
of those modules for the first time at once used to die with ``_DeadlockError`` (the
plugin modules import each other through the package), which stopped ``pull``. The import
only happens once per interpreter, so each run is a fresh subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# One input per plugin-backed rule, each thread starting at a different one, so the first
# imports of several plugin modules overlap; the expected rule proves each was loaded.
PROGRAM = r"""
import sys, threading
from kops_gitsync.secretscan import findings
jwt = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PXBOAHMxZVm4")
cases = [
    (b"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n",
     "pem-private-key"),
    (b"token: " + jwt.encode() + b"\n", "jwt"),
    (b"x: ghp_" + b"a1B2" * 9 + b"\n", "github-token"),
    (b"url: https://deploy:pa55w0rdXyz@git.example.com/x\n", "url-credentials"),
    (b"id: AKIAIOSFODNN7EXAMPLQ\n", "aws-access-key"),
    (b"t: glpat-abcdefghij0123456789\n", "gitlab-token"),
    (b"t: xoxb-123456789012-abcdefghijkl\n", "slack-token"),
    (b"k: sk_live_abcdefghijklmnop01234567\n", "stripe-key"),
]
threads = 16
barrier = threading.Barrier(threads)
errors = []
def run(i):
    barrier.wait()
    try:
        for data, rule in cases[i % len(cases):] + cases[:i % len(cases)]:
            rules = {f.rule for f in findings(data)}
            if rule not in rules:
                errors.append(f"{rule} not found in {data[:30]!r}: {rules}")
    except BaseException as err:
        errors.append(repr(err))
workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print(errors[0] if errors else "ok")
sys.exit(1 if errors else 0)
"""


def test_first_scans_from_many_threads_at_once_do_not_deadlock() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    for attempt in range(8):  # failed every time before the fix; 8 fresh interpreters
        done = subprocess.run(
            [sys.executable, "-c", PROGRAM],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"run {attempt}: {done.stdout}{done.stderr}"
