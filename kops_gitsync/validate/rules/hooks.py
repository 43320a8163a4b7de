"""kops' ``validateHookSpec`` and ``validateFileAssetSpec`` (validation.go) at store write.

Hooks and file assets are how a Cluster or an InstanceGroup adds systemd units and files
to every node; kops refuses both shapes it cannot render when it stores the object, on the
Cluster (``validateClusterSpec``) and on each InstanceGroup (``ValidateInstanceGroup``):

- a hook (unless ``enabled: false``, which kops does not check further) needs ``manifest``
  or ``execContainer``; ``useRawManifest`` needs ``manifest`` and excludes
  ``execContainer``, ``before`` and ``requires``; an ``execContainer`` needs an ``image``;
- a file asset needs a ``name`` and ``content``.

kops tests presence as Go does: a key written with an empty list or mapping (``before:
[]``, ``execContainer: {}``) counts as set, an empty string does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import (
    CONFIG_KEY,
    ClusterView,
    as_dict,
    as_list,
    ig_issue,
    ig_key,
    ig_spec,
)
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go"

HOOK_SPEC = rule(
    "hook-spec",
    "kops cannot render a hook without manifest or execContainer, or a raw manifest mixed"
    " with execContainer, before or requires, and refuses it at store write",
    "give the hook a manifest (or an execContainer with an image); with useRawManifest,"
    " drop execContainer, before and requires",
    f"{_V}: validateHookSpec, validateExecContainerAction")
FILE_ASSET_SPEC = rule(
    "file-asset-spec", "kops refuses a file asset without a name or without content",
    "set fileAssets[].name and fileAssets[].content", f"{_V}: validateFileAssetSpec")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def hook_problems(hook: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(sub-path under the hook, kops' "Type: detail") for each refusal, in kops' order."""
    if hook.get("enabled") is False:
        return
    exec_container = hook.get("execContainer")
    manifest = _text(hook.get("manifest"))
    raw = hook.get("useRawManifest") is True
    if exec_container is None and not manifest:
        yield (), "Required value: you must set either manifest or execContainer for a hook"
    if exec_container is not None and raw:
        yield (), "Forbidden: execContainer may not be used with useRawManifest (use manifest" \
                  " instead)"
    if not manifest and raw:
        yield (), "Required value: you must set manifest when useRawManifest is true"
    if hook.get("before") is not None and raw:
        yield (), "Forbidden: before may not be used with useRawManifest"
    if hook.get("requires") is not None and raw:
        yield (), "Forbidden: requires may not be used with useRawManifest"
    if exec_container is not None and not _text(as_dict(exec_container).get("image")):
        yield ("execContainer", "image"), "Required value: image must be specified"


def _judge(key: str, spec: dict[str, Any]) -> Iterator[Issue]:
    for index, hook in enumerate(as_list(spec.get("hooks"))):
        if not isinstance(hook, dict):
            continue
        for sub, words in hook_problems(hook):
            path: YamlPath = ("spec", "hooks", index, *sub)
            shown = f"spec.hooks[{index}]" + "".join(f".{part}" for part in sub)
            yield Issue(HOOK_SPEC, key, path, f"{shown}: {words}", at_key=not sub)
    for index, asset in enumerate(as_list(spec.get("fileAssets"))):
        if not isinstance(asset, dict):
            continue
        for field in ("name", "content"):
            if not _text(asset.get(field)):
                yield Issue(FILE_ASSET_SPEC, key, ("spec", "fileAssets", index),
                            f"spec.fileAssets[{index}].{field}: Required value", at_key=True)


def check_hooks_and_file_assets(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is not None:
        yield from _judge(CONFIG_KEY, view.spec)
    for file_name, ig in sorted(view.igs.items()):
        for issue in _judge(ig_key(file_name), ig_spec(ig)):
            yield ig_issue(file_name, issue.rule, issue.path, issue.message, at_key=issue.at_key)


CHECKS = (check_hooks_and_file_assets,)
