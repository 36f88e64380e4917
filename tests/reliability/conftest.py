"""The sandbox suite's fixtures (real engine, runner images, tiny plugins), shared here."""

from tests.sandbox.conftest import (  # noqa: F401 (fixtures, found by name)
    engine_client,
    images,
    make_plugin,
    runner,
    sandbox_settings,
    service,
    service_with,
)
