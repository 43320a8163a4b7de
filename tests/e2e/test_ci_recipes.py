"""The CI recipes in examples/ci/ run as written: their YAML is parsed, the commands of each
step are taken out (with the CI's variables substituted) and run with bash in a fresh clone
of a review repository, at a feature branch, as the CI runner would.

Only two kinds of step are not run there: installing kops-gitsync (this checkout is the one
under test) and posting to the GitHub/GitLab API; the body file that step would post is
checked instead. GitLab's post step (plain Python) is run on its own against a local
stand-in for the notes API; GitHub's needs the `gh` program and is not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.core.conftest import Run, cli, git, make_store, pulled  # noqa: F401 - fixtures
from tests.e2e.steps import CLUSTER, NODES
from tests.hooks.conftest import Snapshot, pre_commit_home, snapshot  # noqa: F401 - fixtures

RECIPES = Path(__file__).resolve().parents[2] / "examples" / "ci"
PLAN = "kops-plan.md"
MARKER = "<!-- kops-gitsync-plan -->"
GITHUB_EXPRESSIONS = {
    "github.base_ref": "main",
    "github.event.pull_request.number": "7",
    "github.repository": "example/review",
    "github.token": "not-a-token",
}
GITLAB_VARIABLES = {
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    "CI_PIPELINE_SOURCE": "merge_request_event",
    "CI_API_V4_URL": "http://127.0.0.1:9/api/v4",
    "CI_PROJECT_ID": "1",
    "CI_MERGE_REQUEST_IID": "7",
}


@dataclass
class Step:
    name: str
    command: str
    env: dict[str, str]
    always: bool = False  # runs after an earlier step failed (if: !cancelled(), after_script)

    @property
    def posts(self) -> bool:
        return "gh api" in self.command or "urllib.request" in self.command

    @property
    def installs(self) -> bool:
        return "pip install" in self.command


def _github_expr(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in GITHUB_EXPRESSIONS, f"untested expression {expression!r}"
        return GITHUB_EXPRESSIONS[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def github_steps() -> Iterator[Step]:
    doc = yaml.safe_load((RECIPES / "github-actions.yml").read_text())
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write"}
    for job in doc["jobs"].values():
        job_env = {k: _github_expr(str(v)) for k, v in job.get("env", {}).items()}
        for step in job["steps"]:
            if "run" in step:
                env = {**job_env, **{k: _github_expr(str(v))
                                     for k, v in step.get("env", {}).items()}}
                always = "!cancelled()" in str(step.get("if", ""))
                yield Step(step.get("name", step["run"]), step["run"], env, always)


def gitlab_steps() -> Iterator[Step]:
    doc = yaml.safe_load((RECIPES / "gitlab-ci.yml").read_text())
    job = doc["kops-plan"]
    variables = {k: str(v) for k, v in job.get("variables", {}).items()}
    for section in ("before_script", "script", "after_script"):
        for command in job.get(section, []):
            yield Step(section, command, {**GITLAB_VARIABLES, **variables},
                       section == "after_script")


RECIPE_STEPS: dict[str, Callable[[], Iterator[Step]]] = {
    "github": github_steps, "gitlab": gitlab_steps}


@pytest.fixture
def origin(
    pulled: tuple[Path, Path], snapshot: Snapshot, tmp_path: Path  # noqa: F811
) -> tuple[Path, Path]:
    """A bare origin holding main (a pulled store, the hooks configured) and two branches:
    ``feature`` (a valid change with a risk) and ``broken`` (an invalid InstanceGroup)."""
    repo, _store = pulled
    hooks = "".join(f"  - id: {h}\n" for h in (
        "kops-validate", "kops-protect-production", "kops-no-secrets", "kops-no-derived-edits"))
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {snapshot.path}\n  rev: {snapshot.rev}\n  hooks:\n{hooks}")
    # production: the case the review flow is for (the hooks then judge every change)
    (repo / ".kops-gitsync.yaml").write_text("stores:\n  - name: default\n    production: true\n")
    git(repo, "add", ".pre-commit-config.yaml", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "hooks")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    nodes = repo / "state" / NODES
    config = repo / "state" / CLUSTER / "config"
    for branch, edits in {
        "feature": [(nodes, "maxSize: 2", "maxSize: 5"),
                    (config, "kubernetesVersion: v1.34.0", "kubernetesVersion: v1.35.0")],
        "broken": [(nodes, "maxSize: 2", "maxSize: 1")],  # below minSize: kops refuses it
    }.items():
        git(repo, "switch", "-qc", branch, "main")
        for path, old, new in edits:
            path.write_text(path.read_text().replace(old, new, 1))
        git(repo, "commit", "-qam", branch)
    git(repo, "push", "-q", "origin", "main", "feature", "broken")
    return bare, tmp_path


def ci_checkout(bare: Path, where: Path, branch: str) -> Path:
    """What a CI runner has: a full clone, HEAD detached at the branch, no observed refs."""
    clone = where / f"ci-{branch}"
    git(where, "clone", "-q", str(bare), str(clone))
    git(clone, "checkout", "-q", "--detach", f"origin/{branch}")
    return clone


def run_recipe(recipe: str, clone: Path, home: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each step the CI would run, in order: after a failure only the ``always`` ones."""
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    failed = False
    for step in RECIPE_STEPS[recipe]():
        if step.installs or (failed and not step.always):
            continue
        if step.posts:
            assert PLAN in step.command, f"{recipe}: the posting step does not post {PLAN}"
            continue
        env = {**os.environ, **step.env, "CI_PROJECT_DIR": str(clone),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        env["PRE_COMMIT_HOME"] = str(home)  # one hook environment for the whole session
        env.pop("KOPS_STATE_STORE", None)  # CI has no store
        proc = subprocess.run(["bash", "-e", "-c", step.command], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=600)
        results[step.command.split()[0]] = proc
        failed = failed or proc.returncode != 0
    return results


@pytest.mark.parametrize("recipe", sorted(RECIPE_STEPS))
def test_recipe_runs_the_hooks_and_writes_the_plan_it_posts(
    recipe: str, origin: tuple[Path, Path], pre_commit_home: Path  # noqa: F811
) -> None:
    bare, where = origin
    results = run_recipe(recipe, ci_checkout(bare, where, "feature"), pre_commit_home)
    assert {"kops-gitsync", "pre-commit"} <= set(results), results.keys()
    for command, proc in results.items():
        assert proc.returncode == 0, f"{command}:\n{proc.stdout}\n{proc.stderr}"
    body = (where / "ci-feature" / PLAN).read_text()
    assert body.startswith(MARKER)
    assert "<code>spec.maxSize</code> | <code>2</code> | <code>5</code>" in body
    assert "**kubernetes-version**" in body
    assert "FAKE TEST KEY" not in body


@pytest.mark.parametrize("recipe", sorted(RECIPE_STEPS))
def test_recipe_fails_on_an_invalid_change_and_still_writes_the_plan(
    recipe: str, origin: tuple[Path, Path], pre_commit_home: Path  # noqa: F811
) -> None:
    bare, where = origin
    results = run_recipe(recipe, ci_checkout(bare, where, "broken"), pre_commit_home)
    hooks = results["pre-commit"]
    assert hooks.returncode != 0
    assert re.search(r"^kops cluster validation\.+Failed$", hooks.stdout, re.MULTILINE), \
        hooks.stdout
    assert "maxSize" in hooks.stdout
    assert results["kops-gitsync"].returncode == 0
    body = (where / "ci-broken" / PLAN).read_text()
    assert "<code>spec.maxSize</code> | <code>2</code> | <code>1</code>" in body


class _FakeNotes:
    """GitLab's merge-request notes endpoint, enough for the recipe's post step."""

    def __init__(self, existing: list[dict[str, object]]) -> None:
        self.existing = existing
        self.calls: list[tuple[str, str, dict[str, object] | None, str | None]] = []


def test_gitlab_post_step_creates_then_updates_one_note(tmp_path: Path) -> None:
    """The one step the recipe test does not run against a clone: run it against a local
    stand-in for GitLab's notes API, with the token header the recipe documents."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    (post_step,) = [s for s in gitlab_steps() if s.posts]
    notes = _FakeNotes([{"id": 5, "body": "someone else's note"}])

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            notes.calls.append(("GET", self.path, None, self.headers.get("PRIVATE-TOKEN")))
            self._reply(notes.existing)

        def _write(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            notes.calls.append((self.command, self.path, body, self.headers.get("PRIVATE-TOKEN")))
            self._reply({"id": 99, **body})

        do_POST = do_PUT = _write

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        plan = f"{MARKER}\n### kops-gitsync plan\n| a | b |\n"
        (tmp_path / PLAN).write_text(plan)
        env = {**os.environ, **post_step.env, "KOPS_PLAN_TOKEN": "glpat-test",
               "CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4"}
        notes_path = "/api/v4/projects/1/merge_requests/7/notes"
        for earlier in (None, 42):
            if earlier is not None:
                notes.existing.append({"id": earlier, "body": plan})
            notes.calls.clear()
            proc = subprocess.run(["bash", "-e", "-c", post_step.command], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, proc.stderr
            method, path, body, token = notes.calls[-1]
            assert token == "glpat-test" and body == {"body": plan}
            assert (method, path) == (("POST", notes_path) if earlier is None
                                      else ("PUT", f"{notes_path}/{earlier}"))
        notes.calls.clear()
        del env["KOPS_PLAN_TOKEN"]  # no token configured: the job skips the post
        proc = subprocess.run(["bash", "-e", "-c", post_step.command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and notes.calls == []
    finally:
        server.shutdown()
        server.server_close()
