"""End to end: the side panel's Details section in JupyterLab, in headless Chromium.

A published plugin with a README is installed and run twice through the REST API (once
failing); the panel's Details button shows its runs (status, duration; one opened with its
errors and output), the scan report of its active version, its README as the server rendered
and sanitised it (a script in the README never runs), its rating and reviews, and a review added
through the form lands in the store. The command palette's entries open the section and refresh
it. Screenshots go to ``tests/ui/screenshots/`` (light and dark).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..helpers import build_package, multipart
from .conftest import LabServer
from .test_panel import PANEL, installed_row, shot

pytestmark = pytest.mark.timeout(300)

DETAILS = f'{PANEL} [data-testid="details-view"]'
PLUGIN = '''
import subprocess


class Shouty:
    def __init__(self, context):
        self.context = context

    def execute(self, input_data):
        print("checking", len(input_data["data"]), "rows")
        if input_data["parameters"].get("fail"):
            raise ValueError("the threshold must be positive")
        return {"data": input_data["data"], "metadata": {}, "logs": ["all rows kept"]}
'''
README = """# Shouty

Keeps **every** row and says so.

<script>window.__readme_script_ran = true</script>
<img src=x onerror="window.__readme_script_ran = true">
"""


def test_details_show_runs_scan_readme_and_reviews(
    browser_page: Any, lab_server: LabServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server, page = lab_server, browser_page
    archive = build_package(
        tmp_path / "shouty.tar.gz",
        files={"shouty.py": PLUGIN, "README.md": README},
        top="shouty",
        name="shouty",
        entry_point="shouty.py",
        description="Keeps every row",
        extension_points=["preprocessing"],
    )
    body, ctype = multipart(archive)
    status, answer = server.api(
        "POST", "marketplace", "publish", body=body, headers={"Content-Type": ctype}
    )
    assert status == 201, answer
    assert server.api("POST", "marketplace", "install", body={"name": "shouty"})[0] == 201
    assert server.api("POST", "shouty", "enable")[0] == 200
    assert server.api("POST", "shouty", "rate", body={"rating": 5})[0] == 200
    rows = {"input_data": {"x": [1.0, 2.0, 3.0]}}
    status, good = server.api("POST", "shouty", "execute", body=rows)
    assert status == 200 and good["status"] == "succeeded", good
    status, bad = server.api("POST", "shouty", "execute", body={**rows, "parameters": {"fail": True}})
    assert status == 200 and bad["status"] == "failed", bad

    uncaught: list[str] = []
    page.on("pageerror", lambda error: uncaught.append(str(error)))
    page.goto(f"{server.url}lab?token={server.token}")
    tab = page.locator('.jp-SideBar [data-id="omniscope-plugins"]')
    expect(tab).to_be_visible(timeout=90_000)
    tab.click()
    details = page.locator(DETAILS)
    expect(details.locator('[data-testid="empty"]')).to_contain_text("Pick an installed plugin")

    # The Details button of an installed plugin (a real, labelled button: keyboard works).
    button = installed_row(page, "shouty").get_by_role("button", name="Details of shouty")
    button.focus()
    page.keyboard.press("Enter")
    runs = details.locator('[data-testid="execution"]')
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_have_attribute("data-status", "failed")  # newest first
    expect(runs.nth(1)).to_have_attribute("data-status", "succeeded")
    expect(runs.nth(1).locator("td").nth(2)).to_contain_text("ms")

    # Open the failed run: its error and what it printed.
    runs.nth(0).get_by_role("button", name=f"Show run {bad['execution_id'][:8]}").click()
    detail = details.locator('[data-testid="execution-detail"]')
    expect(detail).to_have_attribute("data-status", "failed")
    expect(detail).to_contain_text("the threshold must be positive")
    expect(detail).to_contain_text("checking 3 rows")
    shot(page, "details-runs")

    # The scan report of the active version (the subprocess import is a finding).
    scan = details.locator('[data-testid="scan"]')
    expect(scan.locator(".jp-OmniscopePlugins-scanVerdict")).to_contain_text("Passed")
    expect(scan.locator('[data-testid="finding"]').first).to_contain_text("shouty.py")

    # The README, rendered by the server with its raw HTML escaped: the script never ran.
    readme = details.locator(".jp-OmniscopePlugins-readme")
    expect(readme.locator("h1")).to_have_text("Shouty")
    expect(readme.locator("strong")).to_have_text("every")
    expect(readme.locator("script, img")).to_have_count(0)
    assert page.evaluate("window.__readme_script_ran === undefined")

    # Rating and a new review through the form.
    reviews = details.locator('[data-testid="reviews"]')
    expect(reviews.locator(".jp-OmniscopePlugins-rating")).to_contain_text("Rated 5 / 5 by 1")
    expect(reviews.locator('[data-testid="empty"]')).to_have_text("No review yet.")
    reviews.get_by_label("Your review").fill("Kept all my rows, as promised.")
    reviews.get_by_label("Your rating").select_option("4")
    reviews.get_by_role("button", name="Add review").click()
    expect(reviews.locator('[data-testid="review"]')).to_contain_text("Kept all my rows")
    expect(reviews.locator(".jp-OmniscopePlugins-formStatus")).to_have_text(
        "Thank you: your review is saved."
    )
    status, stored = server.api("GET", "shouty", "reviews")
    assert status == 200 and stored["reviews"][0]["text"] == "Kept all my rows, as promised."
    reviews.scroll_into_view_if_needed()
    shot(page, "details-reviews")

    # A new run shows after the palette's refresh.
    assert server.api("POST", "shouty", "execute", body=rows)[0] == 200
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".jp-ModalCommandPalette, #command-palette").first
    palette.locator("input").fill("OmniScope: Refresh plugins")
    palette.locator(".lm-CommandPalette-item", has_text="OmniScope: Refresh plugins").click()
    expect(runs).to_have_count(3)

    # The palette's details entry opens the panel on the section after it was closed.
    tab.click()
    expect(page.locator(PANEL)).to_be_hidden()
    page.keyboard.press("Control+Shift+C")
    palette.locator("input").fill("OmniScope: Plugin details")
    palette.locator(".lm-CommandPalette-item", has_text="OmniScope: Plugin details and runs").click()
    expect(details.locator('[data-testid="execution"]').first).to_be_visible()

    # Dark theme.
    page.keyboard.press("Control+Shift+C")
    palette.locator("input").fill("Use Theme: JupyterLab Dark")
    palette.locator(".lm-CommandPalette-item", has_text="JupyterLab Dark").first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    expect(page.locator("#jupyterlab-splash")).to_have_count(0)
    expect(details).to_be_visible()
    shot(page, "details-dark")
    assert not uncaught, f"uncaught errors in the page: {uncaught}"
