"""The marketplace panel as traitlets objects: set values, click buttons, read what it shows."""

from __future__ import annotations

import pandas as pd
import pytest

from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.notebook.widgets import MarketplacePanel

from ..helpers import REPO

EXAMPLES = REPO / "plugins" / "examples"


@pytest.fixture
def published(core: PluginSystem) -> PluginSystem:
    core.seed_examples(EXAMPLES)
    return core


def test_search_install_and_enable_from_the_panel(published: PluginSystem) -> None:
    panel = MarketplacePanel(published)
    names = [row.children[0].value for row in panel.results.children]
    assert len(names) == 3 and any("data_normalizer" in n for n in names)
    published.rate("data_normalizer", 4, user="rater")
    panel.query.value = "normalize"
    panel.search_button.click()
    assert len(panel.results.children) == 1 and "1 plugin(s) found" in panel.status.value
    shown = panel.results.children[0].children[0].value
    assert "data_normalizer</b> 1.0.0" in shown and "★ 4.0 (1)" in shown, shown
    install = panel.results.children[0].children[1]
    assert install.description == "Install"
    install.click()
    assert "Installed and enabled data_normalizer" in panel.status.value
    assert published.details("data_normalizer")["enabled"] is True
    assert panel.run_plugin.options == ("data_normalizer",)
    assert panel.results.children[0].children[1].disabled is True


def test_toggle_and_errors_show_in_status(published: PluginSystem) -> None:
    published.install(EXAMPLES / "outlier_detector", enable=True)
    panel = MarketplacePanel(published, namespace={"frame": pd.DataFrame({"x": [1]}), "_hidden": pd.DataFrame()})
    assert panel.run_frame.options == ("frame",)
    toggle = panel.installed.children[0].children[1]
    toggle.value = False
    assert "outlier_detector disabled" in panel.status.value
    assert panel.run_plugin.options == ()
    panel.run()
    assert "Choose an enabled plugin first" in panel.status.value
    panel.run_params.value = "{not json"
    panel.installed.children[0].children[1].value = True
    panel.run()
    assert "not valid JSON" in panel.status.value


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_run_from_the_panel(published: PluginSystem) -> None:
    published.install(EXAMPLES / "outlier_detector", enable=True)
    namespace = {"measurements": pd.DataFrame({"v": [1.0, 2.0, 2.0, 3.0, 2.0, 100.0]})}
    panel = MarketplacePanel(published, namespace=namespace)
    panel.run_plugin.value = "outlier_detector"
    panel.run_frame.value = "measurements"
    panel.run_params.value = '{"method": "iqr"}'
    panel.run_out.value = "flagged"
    panel.run()
    assert "succeeded" in panel.status.value, panel.status.value
    assert namespace["flagged"]["is_outlier"].tolist() == [False] * 5 + [True]
    assert "<table" in panel.output.value
