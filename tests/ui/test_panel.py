"""End to end: the "OmniScope plugins" side panel in JupyterLab, in headless Chromium.

One published plugin is searched for, installed (and so enabled), disabled, offered and given
an update, rolled back and uninstalled through the panel, each step checked against the REST
API; refusals by the server show its JSON ``message`` and nothing else. Screenshots of each
view go to ``tests/ui/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ..helpers import build_package, multipart
from .conftest import SCREENSHOTS, LabServer

pytestmark = pytest.mark.timeout(300)

PANEL = "#omniscope-plugins"
INSTALLED = f'{PANEL} [data-testid="installed-view"]'
MARKETPLACE = f'{PANEL} [data-testid="marketplace-view"]'
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


def installed_row(page: Any, name: str) -> Any:
    return page.locator(f'{INSTALLED} [data-testid="installed-plugin"][data-plugin="{name}"]')


def catalog_row(page: Any, name: str) -> Any:
    return page.locator(f'{MARKETPLACE} [data-testid="catalog-plugin"][data-plugin="{name}"]')


def status_line(page: Any) -> Any:
    return page.locator(f'{PANEL} [data-testid="status"]')


def status_text(page: Any) -> Any:
    return status_line(page).locator(".jp-OmniscopePlugins-statusText")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


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

    uncaught: list[str] = []
    page.on("pageerror", lambda error: uncaught.append(str(error)))
    page.goto(f"{server.url}lab?token={server.token}")
    tab = page.locator('.jp-SideBar [data-id="omniscope-plugins"]')
    expect(tab).to_be_visible(timeout=90_000)
    tab.click()
    panel = page.locator(PANEL)
    expect(panel).to_have_class(re.compile(r"\bjp-SidePanel\b"))
    expect(panel.locator(".jp-OmniscopePlugins-header")).to_have_text("OmniScope plugins")
    expect(panel.locator(".jp-SidePanel-toolbar .jp-OmniscopePlugins-refresh")).to_be_visible()
    expect(panel.locator(".jp-AccordionPanel-title")).to_have_text(
        ["Installed", "Marketplace", "Details"]
    )

    # Both sections load on open: nothing installed yet, the featured list.
    expect(page.locator(f'{INSTALLED} [data-testid="empty"]')).to_have_text(
        "No plugin is installed yet. Install one from the marketplace below."
    )
    heading = page.locator(f'{MARKETPLACE} [data-testid="results-heading"]')
    expect(heading).to_have_text("Featured")
    expect(catalog_row(page, "my_plugin")).to_have_count(1)

    # The search field is JupyterLab's InputGroup, as tall as the extension manager's.
    search = panel.get_by_label("Search the plugin marketplace")
    expect(search).to_have_attribute("placeholder", "Search plugins")
    box = search.bounding_box()
    assert box is not None and box["height"] == pytest.approx(30, abs=2), box
    expect(panel.locator(".jp-OmniscopePlugins-search .jp-InputGroupAction svg")).to_be_visible()
    search.fill("heteroscedasticity")
    search.press("Enter")
    expect(heading).to_have_text("Results for “heteroscedasticity”")
    hit = catalog_row(page, "my_plugin")
    expect(hit.locator(".jp-OmniscopePlugins-version")).to_have_text("1.0.0")
    expect(hit.locator(".jp-OmniscopePlugins-description")).to_have_text(DESCRIPTION)
    expect(hit.locator(".jp-OmniscopePlugins-rating")).to_have_text("★ 4.0 (1 rating)")
    shot(page, "marketplace-search")

    # Install from the marketplace: installed *and enabled*.
    hit.get_by_role("button", name="Install my_plugin").click()
    expect(status_text(page)).to_have_text("Installed and enabled my_plugin 1.0.0.")
    expect(status_line(page)).to_have_attribute("role", "status")
    expect(hit.get_by_test_id("installed-version")).to_have_text("Installed 1.0.0")
    assert installed(server)["my_plugin"]["active_version"] == "1.0.0"
    assert installed(server)["my_plugin"]["enabled"] is True
    row = installed_row(page, "my_plugin")
    expect(row).to_have_attribute("data-enabled", "true")
    expect(row.locator(".jp-OmniscopePlugins-version")).to_have_text("1.0.0")

    # Quiet secondary buttons, not a solid red one per row.
    expect(row.get_by_test_id("uninstall")).to_have_class(re.compile(r"\bjp-mod-minimal\b"))

    # Disable with the checkbox (keyboard: it is a real, labelled checkbox).
    toggle = row.get_by_label("Enable my_plugin")
    expect(toggle).to_be_checked()
    toggle.focus()
    page.keyboard.press("Space")
    expect(row).to_have_attribute("data-enabled", "false")
    expect(status_text(page)).to_have_text("Disabled my_plugin.")
    assert installed(server)["my_plugin"]["enabled"] is False

    # A newer version is published: both sections offer the update after a refresh.
    publish(server, tmp_path, "1.1.0")
    panel.locator(".jp-OmniscopePlugins-refresh").click()
    update = hit.get_by_test_id("update")
    expect(update).to_have_text("Update to 1.1.0")
    expect(hit.locator(".jp-OmniscopePlugins-badge")).to_have_text("Update available")
    expect(row.get_by_test_id("update")).to_have_text("Update to 1.1.0")
    shot(page, "installed")
    update.click()
    expect(status_text(page)).to_have_text("Updated my_plugin to 1.1.0.")
    expect(row.locator(".jp-OmniscopePlugins-version")).to_have_text("1.1.0")
    expect(hit.get_by_test_id("update")).to_have_count(0)
    expect(row.get_by_test_id("update")).to_have_count(0)
    assert installed(server)["my_plugin"]["active_version"] == "1.1.0"

    # The version picker rolls back (with a reason in the history) and updates again.
    picker = row.get_by_label("Version of my_plugin")
    expect(picker.locator("option")).to_have_text(["1.1.0", "1.0.0"])
    picker.select_option("1.0.0")
    expect(status_text(page)).to_have_text("Rolled back my_plugin to 1.0.0.")
    expect(row.locator(".jp-OmniscopePlugins-version")).to_have_text("1.0.0")
    status, history = server.api("GET", "my_plugin", "history")
    assert history["history"][-1]["action"] == "rollback", history
    assert "JupyterLab panel" in history["history"][-1]["reason"]
    expect(hit.get_by_test_id("update")).to_have_text("Update to 1.1.0")
    picker.select_option("1.1.0")
    expect(status_text(page)).to_have_text("Updated my_plugin to 1.1.0.")
    assert installed(server)["my_plugin"]["active_version"] == "1.1.0"

    # A refusal shows the server's message: the plugin vanished behind the panel's back.
    status, gone = server.api("DELETE", "my_plugin")
    assert status == 200, gone
    row.get_by_label("Enable my_plugin").click()
    expect(status_text(page)).to_have_text("No plugin named 'my_plugin' is installed.")
    expect(status_line(page)).to_have_attribute("role", "alert")
    expect(page.locator(f'{INSTALLED} [data-testid="empty"]')).to_be_visible()
    panel.get_by_role("button", name="Dismiss").click()
    expect(status_text(page)).to_have_count(0)

    # Install again; uninstall asks first (Cancel keeps it), then removes it.
    hit.get_by_role("button", name="Install my_plugin").click()
    expect(status_text(page)).to_have_text("Installed and enabled my_plugin 1.1.0.")
    row.get_by_role("button", name="Uninstall my_plugin").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Uninstall my_plugin?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert "my_plugin" in installed(server)
    row.get_by_role("button", name="Uninstall my_plugin").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Uninstall").click()
    expect(status_text(page)).to_have_text("Uninstalled my_plugin.")
    assert installed(server) == {}

    # Installing what is already there is refused (409); the panel shows just the message.
    button = hit.get_by_role("button", name="Install my_plugin")
    expect(button).to_be_visible()
    assert server.api("POST", "marketplace", "install", body={"name": "my_plugin"})[0] == 201
    button.click()
    expect(status_line(page)).to_have_attribute("role", "alert")
    expect(status_text(page)).to_contain_text("already installed")
    message = status_text(page).inner_text()
    assert "Traceback" not in message and "Error:" not in message, message
    shot(page, "error-status")

    # A list that cannot be loaded shows why (the server's JSON message) and a retry.
    outage = json.dumps({"message": "The plugin store is being migrated; try again shortly."})
    page.route(
        re.compile(r".*/api/plugins/list\b.*"),
        lambda route: route.fulfill(status=503, content_type="application/json", body=outage),
    )
    panel.locator(".jp-OmniscopePlugins-refresh").click()
    load_error = page.locator(f'{INSTALLED} [data-testid="load-error"]')
    expect(load_error).to_have_attribute("role", "alert")
    expect(load_error.locator(".jp-OmniscopePlugins-loadErrorMessage")).to_have_text(
        "The plugin store is being migrated; try again shortly."
    )
    shot(page, "error-load")
    page.unroute(re.compile(r".*/api/plugins/list\b.*"))
    load_error.get_by_role("button", name="Retry").click()
    expect(installed_row(page, "my_plugin")).to_be_visible()

    # The command palette opens the panel again after it was closed.
    tab.click()
    expect(panel).to_be_hidden()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".jp-ModalCommandPalette, #command-palette").first
    palette.locator("input").fill("Open plugins panel")
    item = palette.locator(".lm-CommandPalette-item", has_text="OmniScope: Open plugins panel")
    expect(item).to_have_count(1)
    item.click()
    expect(panel).to_be_visible()

    # The dark theme: the panel follows JupyterLab's variables.
    page.keyboard.press("Control+Shift+C")
    palette.locator("input").fill("Use Theme: JupyterLab Dark")
    palette.locator(".lm-CommandPalette-item", has_text="JupyterLab Dark").first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    # JupyterLab shows its splash screen while it loads the theme.
    expect(page.locator("#jupyterlab-splash")).to_have_count(0)
    expect(panel).to_be_visible()
    background = panel.evaluate("node => getComputedStyle(node).backgroundColor")
    rgb = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert sum(rgb) / 3 < 100, f"the panel is not dark in the dark theme: {background}"
    shot(page, "installed-dark")
    assert not uncaught, f"uncaught errors in the page: {uncaught}"
