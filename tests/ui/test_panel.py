"""End to end: the "OmniScope plugins" side panel in JupyterLab, in headless Chromium.

One published plugin is searched for, installed, enabled, updated, rolled back and uninstalled
through the panel, each step checked against the REST API; refusals by the server show its JSON
``message`` and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ..conftest import build_package, multipart
from .conftest import LabServer

pytestmark = pytest.mark.timeout(240)

SCREENSHOTS = Path("/tmp")
PANEL = "#omniscope-plugins"
DESCRIPTION = "Estimates heteroscedasticity of residual series"


def publish(server: LabServer, tmp_path: Path, version: str) -> None:
    archive = build_package(
        tmp_path / f"my_plugin-{version}.tar.gz", version=version, description=DESCRIPTION
    )
    body, ctype = multipart(archive)
    status, answer = server.api(
        "POST", "marketplace", "publish", body=body, headers={"Content-Type": ctype}
    )
    assert status == 201, answer


def installed(server: LabServer) -> dict[str, Any]:
    status, answer = server.api("GET", "list")
    assert status == 200, answer
    return {p["name"]: p for p in answer["plugins"]}


def item(page: Any, name: str) -> Any:
    return page.locator(f'{PANEL} .jp-OmniscopePlugins-item[data-plugin="{name}"]:visible')


def status_line(page: Any) -> Any:
    return page.locator(f"{PANEL} .jp-OmniscopePlugins-status")


def test_search_install_and_manage_a_plugin_from_the_side_panel(
    browser_page: Any, lab_server: LabServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server, page = lab_server, browser_page
    extensions = {e["name"] for e in server.page_config()["federated_extensions"]}
    assert "omniscope-jupyter" in extensions, (
        f"the omniscope-jupyter labextension is not installed (only {sorted(extensions)}): "
        "`pip install -e .` builds it from labextension/"
    )
    publish(server, tmp_path, "1.0.0")
    assert server.api("POST", "my_plugin", "rate", body={"rating": 4})[0] == 200

    page.goto(f"{server.url}lab?token={server.token}")
    tab = page.locator('.jp-SideBar [data-id="omniscope-plugins"]')
    expect(tab).to_be_visible(timeout=90_000)
    tab.click()
    panel = page.locator(PANEL)
    expect(panel.locator(".jp-OmniscopePlugins-header")).to_have_text("OmniScope plugins")

    # Marketplace on open: the featured list, then a search.
    expect(panel.locator(".jp-OmniscopePlugins-heading")).to_have_text("Featured")
    expect(item(page, "my_plugin")).to_have_count(1)
    panel.get_by_placeholder("Search plugins").fill("heteroscedasticity")
    panel.get_by_placeholder("Search plugins").press("Enter")
    expect(panel.locator(".jp-OmniscopePlugins-heading")).to_have_text(
        "Results for “heteroscedasticity”"
    )
    hit = item(page, "my_plugin")
    expect(hit.locator(".jp-OmniscopePlugins-version")).to_have_text("1.0.0")
    expect(hit.locator(".jp-OmniscopePlugins-description")).to_have_text(DESCRIPTION)
    expect(hit.locator(".jp-OmniscopePlugins-rating")).to_have_text("★ 4.0 (1 rating)")
    page.screenshot(path=str(SCREENSHOTS / "omniscope-panel-marketplace.png"))

    hit.get_by_role("button", name="Install").click()
    expect(hit.locator(".jp-OmniscopePlugins-installed")).to_have_text("Installed 1.0.0")
    expect(status_line(page)).to_have_text("Installed my_plugin 1.0.0.")
    assert installed(server)["my_plugin"]["active_version"] == "1.0.0"

    # Installed tab: enable, update to a newer installed version, roll back.
    panel.get_by_role("tab", name="Installed").click()
    row = item(page, "my_plugin")
    expect(row.locator(".jp-OmniscopePlugins-version")).to_have_text("1.0.0")
    toggle = row.get_by_label("Enable my_plugin")
    expect(toggle).not_to_be_checked()
    toggle.click()  # not check(): the list re-renders, the old box detaches
    expect(row).to_have_attribute("data-enabled", "true")
    assert installed(server)["my_plugin"]["enabled"] is True

    publish(server, tmp_path, "1.1.0")
    status, answer = server.api(
        "POST", "marketplace", "install", body={"name": "my_plugin", "version": "1.1.0"}
    )
    assert status == 201, answer
    panel.get_by_role("button", name="Refresh").click()
    expect(row.locator("option")).to_have_text(["1.1.0", "1.0.0"])
    row.get_by_label("Version of my_plugin").select_option("1.1.0")
    expect(row.locator(".jp-OmniscopePlugins-version")).to_have_text("1.1.0")
    expect(status_line(page)).to_have_text("Updated my_plugin to 1.1.0.")
    assert installed(server)["my_plugin"]["active_version"] == "1.1.0"
    page.screenshot(path=str(SCREENSHOTS / "omniscope-panel-installed.png"))

    row.get_by_label("Version of my_plugin").select_option("1.0.0")
    expect(row.locator(".jp-OmniscopePlugins-version")).to_have_text("1.0.0")
    status, history = server.api("GET", "my_plugin", "history")
    assert history["history"][-1]["action"] == "rollback", history
    assert "JupyterLab panel" in history["history"][-1]["reason"]

    # A refusal shows the server's message: the plugin vanished behind the panel's back.
    status, gone = server.api("DELETE", "my_plugin")
    assert status == 200, gone
    row.get_by_label("Enable my_plugin").click()
    expect(status_line(page)).to_have_text("No plugin named 'my_plugin' is installed.")
    expect(status_line(page)).to_have_attribute("role", "alert")
    expect(panel.locator(".jp-OmniscopePlugins-empty:visible")).to_have_text(
        "No plugin is installed yet."
    )

    # Install again from the marketplace, uninstall from the panel (after the confirmation).
    panel.get_by_role("tab", name="Marketplace").click()
    item(page, "my_plugin").get_by_role("button", name="Install").click()
    expect(status_line(page)).to_have_text(re.compile(r"^Installed my_plugin 1\.1\.0\.$"))
    panel.get_by_role("tab", name="Installed").click()
    item(page, "my_plugin").get_by_role("button", name="Uninstall").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Uninstall").click()
    expect(status_line(page)).to_have_text("Uninstalled my_plugin.")
    assert installed(server) == {}

    # Installing what is already there is refused (409); the panel shows just the message.
    panel.get_by_role("tab", name="Marketplace").click()
    button = item(page, "my_plugin").get_by_role("button", name="Install")
    expect(button).to_be_visible()
    assert server.api("POST", "marketplace", "install", body={"name": "my_plugin"})[0] == 201
    button.click()
    expect(status_line(page)).to_have_attribute("role", "alert")
    message = status_line(page).inner_text()
    assert "already installed" in message, message
    assert "Traceback" not in message and "Error:" not in message, message
    page.screenshot(path=str(SCREENSHOTS / "omniscope-panel-error.png"))
