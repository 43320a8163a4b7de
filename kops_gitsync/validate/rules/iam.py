"""kops' IAM checks at store write: additional and external policies, service-account roles.

From validation.go: ``validateAdditionalPolicy`` (the key names an IG role; the value is a
JSON list of IAM statements, each with ``Effect`` Allow or Deny), ``validateExternalPolicies``
(the key names an IG role; each entry is an IAM policy ARN, ``arn:...:policy/...``) and
``validateSAExternalPermissions`` (namespace, name, ``aws`` with exactly one of
``inlinePolicy`` and ``policyARNs``, no service account twice). kops reads v1alpha2's
``master`` key as ``control-plane``, so that is the name its messages use. JSON is read the
way Go's encoding/json fills kops' Statement: object keys match field names in any case,
``null`` is an empty list, Action and Resource are a string or a list of strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go"
ROLES = ("control-plane", "apiserver", "node", "bastion")
_ARN_EXAMPLE = "arn:aws:iam::123456789012:policy/KopsExamplePolicy"

IAM_POLICY = rule(
    "iam-policy",
    "kops refuses additional policies that are not a JSON list of IAM statements with Effect"
    " Allow or Deny, external policies that are not IAM policy ARNs, either keyed by anything"
    " but an IG role, and service-account permissions without namespace, name or one policy",
    "key policies by master (control-plane), apiserver, node or bastion; write a JSON list of"
    " statements or a policy ARN; give each service account one of inlinePolicy/policyARNs",
    f"{_V}: validateAdditionalPolicy, validateExternalPolicies, validateSAExternalPermissions")


def _role(key: Any) -> str:
    text = str(key)
    return "control-plane" if text == "master" else text


def _field(statement: dict[str, Any], name: str) -> Any:
    """Go encoding/json: the exact key, else the first key equal ignoring case."""
    if name in statement:
        return statement[name]
    return next((v for k, v in statement.items() if str(k).lower() == name.lower()), None)


def statement_problems(policy: str) -> Iterator[tuple[int | None, str]]:
    """(statement index or None for the whole policy, kops' "Type: detail")."""
    try:
        statements = json.loads(policy)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        yield None, f"policy was not valid JSON: error parsing IAM statements: {exc}"
        return
    if statements is None:
        return
    shaped = isinstance(statements, list) and all(
        s is None or (isinstance(s, dict) and all(
            v is None or isinstance(v, str) or (isinstance(v, list) and all(
                isinstance(x, str) for x in v))
            for v in (_field(s, "Action"), _field(s, "Resource")))
            and isinstance(_field(s, "Effect"), (str, type(None))))
        for s in statements)
    if not shaped:
        yield None, ("policy was not valid JSON: error parsing IAM statements: expected a list"
                     " of statements (objects with Effect, Action, Resource)")
        return
    for index, statement in enumerate(statements):
        effect = _field(statement or {}, "Effect")
        if not effect:
            yield index, "Required value: Effect must be specified for IAM policy"
        elif effect not in ("Allow", "Deny"):
            yield index, f'Unsupported value: "{effect}": supported values: "Allow", "Deny"'


def _policy_arn_ok(text: str) -> bool:
    """aws-sdk-go-v2 ``arn.Parse`` succeeds and the resource starts with ``policy/``."""
    sections = text.split(":", 5)
    return text.startswith("arn:") and len(sections) == 6 and sections[5].startswith("policy/")


def _roles_and_policies(spec: dict[str, Any]) -> Iterator[tuple[YamlPath, str]]:
    listed = ", ".join(f'"{r}"' for r in ROLES)
    for key, policy in as_dict(spec.get("additionalPolicies")).items():
        role, here = _role(key), ("spec", "additionalPolicies", key)
        if role not in ROLES:
            yield here, f'spec.additionalPolicies: Unsupported value: "{role}": supported' \
                        f" values: {listed}"
        for index, words in statement_problems(policy if isinstance(policy, str) else ""):
            where = f"spec.additionalPolicies[{role}]" + (
                "" if index is None else f"[{index}].Effect")
            yield here, f"{where}: {words}" if index is not None else \
                f"{where}: Invalid value: (the policy): {words}"
    for key, policies in as_dict(spec.get("externalPolicies")).items():
        role = _role(key)
        if role not in ROLES:
            yield ("spec", "externalPolicies", key), (
                f'spec.externalPolicies: Unsupported value: "{role}": supported values: {listed}')
        for index, policy in enumerate(as_list(policies)):
            if not _policy_arn_ok(str(policy)):
                yield ("spec", "externalPolicies", key, index), (
                    f'spec.externalPolicies.{role}: Invalid value: "{policy}": Policy must be a'
                    f" valid AWS ARN such as {_ARN_EXAMPLE}")


def _service_accounts(spec: dict[str, Any]) -> Iterator[tuple[YamlPath, str]]:
    seen: set[str] = set()
    path = "spec.iam.serviceAccountExternalPermissions"
    entries = as_list(as_dict(spec.get("iam")).get("serviceAccountExternalPermissions"))
    for index, entry in enumerate(entries):
        account = as_dict(entry)
        namespace, name = str(account.get("namespace") or ""), str(account.get("name") or "")
        key, here = f"{namespace}/{name}", ("spec", "iam", "serviceAccountExternalPermissions",
                                            index)
        if not namespace:
            yield here, f"{path}[{key}].namespace: Required value: namespace cannot be empty"
        if not name:
            yield here, f"{path}[{key}].name: Required value: name cannot be empty"
        if key in seen:
            yield here, f'{path}[{key}]: Duplicate value: "{key}"'
        seen.add(key)
        aws = account.get("aws")
        if not isinstance(aws, dict):
            yield here, f"{path}[{key}].aws: Required value: AWS permissions must be set"
            continue
        arns, inline = as_list(aws.get("policyARNs")), str(aws.get("inlinePolicy") or "")
        if not arns and not inline:
            yield (*here, "aws"), (f"{path}[{key}].aws: Required value: either inlinePolicy or"
                                   " policyARN must be set")
        if arns and inline:
            yield (*here, "aws"), (f"{path}[{key}].aws: Forbidden: cannot set both inlinePolicy"
                                   " and policyARN")


def check_iam(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    for found in (_roles_and_policies(view.spec), _service_accounts(view.spec)):
        for path, message in found:
            yield cluster_issue(IAM_POLICY, path, message, at_key=True)


CHECKS = (check_iam,)
