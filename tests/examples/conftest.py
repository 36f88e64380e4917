"""Fixtures of the example plugin tests."""

from __future__ import annotations

import pytest

from tests.examples.example_plugins import r_available
from tests.prereq import missing


@pytest.fixture(scope="session")
def rscript() -> None:
    """Require R with jsonlite (apt-get install r-base-core r-cran-jsonlite)."""
    if not r_available():
        missing("Rscript with the jsonlite package is not installed")
