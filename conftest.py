"""Fixtures shared by every test package (context tests and cross-context tests)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


def pytest_collection_modifyitems(items):
    """A ``django_db`` test may touch every context's database unless it says otherwise.

    In split mode each context has its own database; naming them all keeps
    tests identical in both modes.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and "databases" not in marker.kwargs:
            kwargs = {**marker.kwargs, "databases": "__all__"}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous DRF test client."""
    return APIClient()
