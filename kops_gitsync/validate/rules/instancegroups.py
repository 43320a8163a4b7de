"""instancegroups rules (being filled in)."""

from __future__ import annotations

from kops_gitsync.validate.rules.base import Check

CHECKS: tuple[Check, ...] = ()
