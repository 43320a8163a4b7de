"""A sample of kops' own integration-test inputs through the real ``kops-validate`` hook.

kops renders these end to end, so the hook must let them be committed (warnings allowed);
the same cluster with a bare IP in ``sshAccess``, which ``kops replace`` refuses, must not
be. The full table over every input runs in tests/unit/test_validate_kops_integration.py.
"""

from __future__ import annotations

from tests.hooks.conftest import MakeRepo, Repo, output
from tests.unit.test_validate_kops_integration import INTEGRATION, cluster_files

SAMPLE = (
    "update_cluster/complex/in-v1alpha2.yaml",  # many fields; v1alpha3-only ones warned
    "update_cluster/ha_gce/in-v1alpha2.yaml",  # taint a=b:c, which kops stores
    "update_cluster/gossip-aws/in-v1alpha2.yaml",  # legacy gossip name on AWS
    "update_cluster/minimal_gce_plb/in-v1alpha2.yaml",  # rootVolume: dropped by v1alpha2
    "create_cluster/ha_shared_zones/expected-v1alpha2.yaml",
)


def _write(repo: Repo, source: str) -> str:
    name, files = cluster_files((INTEGRATION / source).read_bytes())
    for key, data in files.items():
        repo.write(f"state/{name}/{key}", data)
    return name


def test_kops_integration_inputs_commit_through_the_hook(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=("kops-validate",))
    for source in SAMPLE:
        assert (INTEGRATION / source).is_file(), source
        _write(repo, source)
    proc = repo.commit("kops' own test clusters")
    assert proc.returncode == 0, output(proc)


def test_a_bare_ip_in_ssh_access_is_refused_by_the_hook(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=("kops-validate",))
    name = _write(repo, "update_cluster/complex/in-v1alpha2.yaml")
    config = repo.read(f"state/{name}/config").decode()
    assert "  sshAccess:\n  - 1.1.1.1/32\n" in config
    repo.write(f"state/{name}/config",
               config.replace("  sshAccess:\n  - 1.1.1.1/32\n", "  sshAccess:\n  - 1.1.1.1\n"))
    proc = repo.commit("ssh from one address")
    assert proc.returncode == 1, output(proc)
    assert "access-cidr" in output(proc)
    assert 'Could not be parsed as a CIDR (did you mean "1.1.1.1/32")' in output(proc)
