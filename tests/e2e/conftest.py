"""End-to-end tests share the review-repository fixture of tests/core."""

from tests.core.conftest import repo

__all__ = ["repo"]
