"""The Kaggle commands need the official client 2.x (mapsage.kaggle.client), which needs Python
>= 3.11: on Python 3.10 the lock pins kaggle 1.7, and these modules' tests, which build or push
through the client, are skipped there (test_kaggle_client.py checks the refusal instead)."""

from __future__ import annotations

from importlib import metadata

import pytest

NEEDS_CLIENT = ("test_kaggle_build.py", "test_kaggle_push.py", "test_continuation.py",
                "test_bundle_secrets.py")


def _client_major() -> int:
    try:
        return int(metadata.version("kaggle").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return 0


def pytest_collection_modifyitems(config, items):
    if _client_major() >= 2:
        return
    skip = pytest.mark.skip(reason="needs the Kaggle client 2.x (Python >= 3.11)")
    for item in items:
        if item.path.name in NEEDS_CLIENT:
            item.add_marker(skip)
