"""Prerequisites of the tests that need real outside things (Docker engine, images, R).

Locally a missing prerequisite skips the test with a reason; under ``CI=true`` it fails, because
CI must run the whole suite for real and a skip there would hide a broken setup script.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip (locally) or fail (in CI) because ``reason`` is not available."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)
