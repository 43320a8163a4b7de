"""The hook judges a cluster with the schema of the kops that wrote it, and ``--strict``.

``kops-version.txt`` (written by ``kops update cluster``) picks the kops minor whose schema
validates the cluster, as ``kops-gitsync validate`` does: a field that kops 1.37 knows and
kops 1.33 does not is unknown to a 1.33 cluster, so kops 1.33 would drop it silently: a
warning, which ``args: [--strict]`` turns into a refusal.
"""

from __future__ import annotations

from tests.hooks.conftest import MakeRepo, Repo, output
from tests.unit.test_validate_kops_integration import INTEGRATION, cluster_files

STRICT = "kops-validate\n    args: [--strict]"
NEW_IN_137 = "  containerd:\n    installCriCtl: true\n"


def _cluster(repo: Repo, kops_version: str | None) -> str:
    source = INTEGRATION / "update_cluster/minimal-aws/in-v1alpha2.yaml"
    name, files = cluster_files(source.read_bytes())
    for key, data in files.items():
        if key == "config":
            text = data.decode()
            assert "\nspec:\n" in text
            data = text.replace("\nspec:\n", "\nspec:\n" + NEW_IN_137, 1).encode()
        repo.write(f"state/{name}/{key}", data)
    if kops_version is not None:
        repo.write(f"state/{name}/kops-version.txt", kops_version)
    return name


def test_a_field_newer_than_the_clusters_kops_is_a_warning(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=("kops-validate",))
    _cluster(repo, "1.33.2")
    proc = repo.commit("cluster written by kops 1.33")
    assert proc.returncode == 0, output(proc)


def test_strict_refuses_it_with_the_1_33_schema(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=(STRICT,))
    _cluster(repo, "1.33.2")
    proc = repo.commit("cluster written by kops 1.33")
    assert proc.returncode == 1, output(proc)
    assert "installCriCtl" in output(proc)


def test_strict_accepts_it_with_the_newest_schema(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=(STRICT,))
    _cluster(repo, None)
    proc = repo.commit("no kops-version.txt: the newest schema knows the field")
    assert proc.returncode == 0, output(proc)
