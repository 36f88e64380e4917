"""The marketplace panel and RunPanel as traitlets objects: set values, click, read what shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from omniscope_jupyter import archive
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.notebook.runpanel import RunPanel, free_name
from omniscope_jupyter.notebook.widgets import MarketplacePanel

from .conftest import CHATTY, CHATTY_MANIFEST, write_plugin

#: Schemas with every kind of field a form makes.
FORM_MANIFEST = {
    **CHATTY_MANIFEST,
    "config": {
        "factor": {"type": "number", "default": 2, "description": "multiplier",
                   "minimum": 0, "maximum": 10},
        "mode": {"type": "string", "default": "fast", "description": "how", "choices": ["fast", "slow"]},
        "verbose": {"type": "boolean", "default": False, "description": "say more"},
        "columns": {"type": "array", "default": ["a"], "description": "which columns"},
        "label": {"type": "string", "default": "x", "description": "a name"},
    },
    "parameters": {
        "sleep": {"type": "number", "description": "seconds to wait", "minimum": 0},
        "tag": {"type": "string", "description": "a required tag", "required": True},
    },
}  # fmt: skip
README = "# Chatty\n\nScales **numbers**. <script>alert('x')</script>\n\n- one `item`\n\n```\n<b>code</b>\n```\n"


@pytest.fixture
def published(core: PluginSystem, tmp_path: Path) -> PluginSystem:
    """The catalog holds chatty (with a README that tries to inject markup) and the examples."""
    folder = write_plugin(tmp_path / "src" / "chatty", CHATTY_MANIFEST, CHATTY)
    (folder / "README.md").write_text(README)
    archive.pack(folder, tmp_path / "chatty.tar.gz")
    core.publish(tmp_path / "chatty.tar.gz", user="author")
    return core


def test_search_details_review_and_install(published: PluginSystem) -> None:
    panel = MarketplacePanel(published)
    assert [r.children[0].value.split("</b>")[0] for r in panel.results.children] == ["<b>chatty"]
    assert panel.statuses["Marketplace"].value == "1 plugin(s) found"
    details, install = panel.results.children[0].children[1:]
    details.click()
    shown = " ".join(getattr(c, "value", "") for c in panel.details.children)
    assert "&lt;script&gt;" in shown and "<script>" not in shown  # the README's markup: text
    assert "<h1>Chatty</h1>" in shown and "<strong>numbers</strong>" in shown
    assert "<td>1.0.0</td>" in shown and "scan passed" in shown and "No reviews yet" in shown
    panel.review_text.value = "Works <b>well</b>"
    panel.review_rating.value = 4
    panel.review_button.click()
    assert panel.statuses["Marketplace"].value == "Review added to chatty"
    shown = " ".join(getattr(c, "value", "") for c in panel.details.children)
    assert "Works &lt;b&gt;well&lt;/b&gt;" in shown and "★ 4.0 (1)" in shown
    install.click()
    assert "Installed and enabled chatty 1.0.0" in panel.statuses["Marketplace"].value
    assert published.details("chatty")["enabled"] is True
    assert panel.run_plugin.options == ("chatty",) and panel.history_plugin.options == ("chatty",)
    assert panel.results.children[0].children[2].disabled is True
    # Each tab reports in its own status line.
    toggle = panel.installed.children[0].children[1]
    toggle.value = False
    assert panel.statuses["Installed"].value == "chatty disabled"
    assert "Installed and enabled" in panel.statuses["Marketplace"].value
    assert panel.run_plugin.options == ()


def test_a_form_from_the_config_schema_validates_before_running(core: PluginSystem, tmp_path: Path) -> None:
    core.install(write_plugin(tmp_path / "form", FORM_MANIFEST, CHATTY), enable=True)
    namespace: dict[str, Any] = {"result": 1, "df": pd.DataFrame({"a": [1.0]}), "_private": pd.DataFrame()}
    panel = RunPanel("chatty", namespace["df"], backend=core, namespace=namespace)
    kinds = {(f.section, f.name): type(f.widget).__name__ for f in panel.fields}
    assert kinds == {
        ("parameters", "sleep"): "Text", ("parameters", "tag"): "Text",
        ("config", "factor"): "FloatText", ("config", "mode"): "Dropdown",
        ("config", "verbose"): "Checkbox", ("config", "columns"): "Textarea",
        ("config", "label"): "Text",
    }  # fmt: skip
    fields = {f.name: f.widget for f in panel.fields}
    assert fields["mode"].options == ("fast", "slow") and fields["columns"].value == '["a"]'
    assert panel.frame.options == ("df",) and panel.frame.value == "df"
    assert panel.save_as.value == "result_2"  # never the notebook's own `result`
    assert free_name({"result": 1, "result_2": 2}) == "result_3"
    fields["factor"].value = 20.0
    fields["columns"].value = "[not json"
    fields["sleep"].value = "-1"
    panel.extra.value = "- a list"
    panel.save_as.value = "not a name"
    panel.run_button.click()
    status = panel.status.value
    for problem in (
        "config factor must be at most 10", "config columns is not valid JSON",
        "parameters sleep must be at least 0", "parameters tag is required",
        "More parameters must be a mapping", "Save as: &#x27;not a name&#x27; is not",
    ):  # fmt: skip
        assert problem in status, status
    assert panel.handle is None and not panel.running  # nothing was started
    # Fixed, the values are what the run will get (an optional field left empty is not sent).
    fields["factor"].value, fields["columns"].value, fields["sleep"].value = 3.0, '["a"]', ""
    fields["tag"].value, panel.extra.value, panel.save_as.value = "t1", "note: yaml", "out"
    parameters, config = panel.form_values()
    assert parameters == {"tag": "t1", "note": "yaml"}
    assert config == {"factor": 3.0, "mode": "fast", "verbose": False, "columns": ["a"], "label": "x"}


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_run_cancel_and_rerun_from_the_panels(core: PluginSystem, chatty: Path) -> None:
    core.install(chatty, enable=True)
    namespace: dict[str, Any] = {"measurements": pd.DataFrame({"a": [1.0, 2.0]})}
    market = MarketplacePanel(core, namespace=namespace)
    market.open_run("chatty")
    panel = market.run_panel
    assert panel is not None and market.tabs.selected_index == 2
    fields = {f.name: f.widget for f in panel.fields}
    fields["factor"].value = 5.0
    panel.run_button.click()
    assert panel.run_button.disabled is True  # one run at a time
    panel.wait(60)
    assert panel.run_button.disabled is False and "saved as result" in panel.status.value
    assert namespace["result"]["a"].tolist() == [5.0, 10.0]
    assert "<table" in panel.output.value and "halfway" in panel.live.value
    assert panel.save_as.value == "result_2"
    # Cancel: the run stops, its record says so, Run is free again.
    panel.extra.value = "sleep: 120"
    panel.run_button.click()
    while panel.running and not (panel.handle and panel.handle.status == "running"):
        panel.wait(0.1)
    panel.cancel_button.click()
    panel.wait(60)
    assert panel.result is not None and panel.result.status == "cancelled", panel.status.value
    assert "cancelled" in panel.status.value and "result_2" not in namespace
    # History: the runs, newest first; rerun the first one (same factor, same frame).
    market.open_history("chatty")
    rows = market.history.children
    assert [r.children[0].value.split("<b>")[1].split("</b>")[0] for r in rows] == ["cancelled", "succeeded"]
    rows[1].children[1].click()
    assert "factor" in market.execution_detail.value
    rows[1].children[2].click()
    assert market.statuses["History"].value.startswith("rerunning ")
    market.run_panel.wait(60)  # type: ignore[union-attr]
    assert namespace["result_2"]["a"].tolist() == [5.0, 10.0]
    assert json.loads(json.dumps(market.run_panel.result.provenance))["config"] == {"factor": 5.0}  # type: ignore[union-attr]


def test_the_readme_of_an_installed_version_comes_from_its_files(
    core: PluginSystem, chatty: Path
) -> None:
    (chatty / "README.md").write_text("# Installed chatty\n")
    core.install(chatty)
    assert core.readme("chatty") == {
        "plugin_id": "chatty", "version": "1.0.0", "readme": "# Installed chatty\n",
        "html": "<h1>Installed chatty</h1>\n",
    }  # fmt: skip
