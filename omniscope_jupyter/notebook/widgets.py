"""The marketplace panel: browse, install, enable and run plugins on DataFrames, inline.

Plain ipywidgets over ``PluginSystem``, so it works in JupyterLab, Notebook and VS Code alike.
Every action reports in ``status`` (one line) instead of raising into the front-end.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from ..core.system import PluginSystem
from ..errors import PluginError
from .render import rendered


def _set_options(dropdown: w.Dropdown, options: list[str]) -> None:
    """New options, keeping the selection when it is still there, else the first option."""
    keep = dropdown.value
    dropdown.options = options
    dropdown.value = keep if keep in options else (options[0] if options else None)


def _hit_html(hit: dict[str, Any]) -> str:
    """One search result: name, newest version, description, rating (count), downloads."""
    rating = hit.get("rating") or {}
    count = rating.get("count") or 0
    stars = f" · ★ {float(rating.get('average') or 0):.1f} ({count})" if count else ""
    return (
        f"<b>{html.escape(str(hit['name']))}</b> {html.escape(str(hit.get('latest_version', '')))}"
        f" · {html.escape(str(hit.get('description') or ''))}{stars}"
        f" · {int(hit.get('downloads') or 0)} downloads"
    )


class MarketplacePanel(w.VBox):
    """Three tabs: Marketplace (search + install), Installed (enable/disable), Run."""

    def __init__(
        self, system: PluginSystem, namespace: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        self.system = system
        self.namespace = namespace if namespace is not None else {}
        self.status = w.HTML()
        self.result: Any = None

        self.query = w.Text(placeholder="search plugins (name, description, tags, author)")
        self.search_button = w.Button(description="Search", icon="search")
        self.search_button.on_click(lambda _: self.search())
        self.results = w.VBox()
        market = w.VBox([w.HBox([self.query, self.search_button]), self.results])

        self.installed = w.VBox()
        self.run_plugin = w.Dropdown(description="Plugin")
        self.run_frame = w.Dropdown(description="DataFrame")
        self.run_params = w.Textarea(value="{}", description="Parameters", placeholder='{"method": "zscore"}')
        self.run_out = w.Text(value="result", description="Save as")
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.run_button.on_click(lambda _: self.run())
        self.output = w.HTML()
        #: Figures, charts, reports and files, shown by kind (``render.py``), never as raw HTML.
        self.rendered = w.Output()
        run = w.VBox(
            [self.run_plugin, self.run_frame, self.run_params, self.run_out, self.run_button, self.output,
             self.rendered]
        )

        self.tabs = w.Tab(children=[market, self.installed, run])
        for i, title in enumerate(("Marketplace", "Installed", "Run")):
            self.tabs.set_title(i, title)
        super().__init__([self.tabs, self.status], **kwargs)
        self.refresh()
        self.search()

    # -- actions ----------------------------------------------------------------------------

    def _guard(self, action: Callable[[], str]) -> None:
        try:
            message = action()
        except PluginError as e:
            self.status.value = f"<b style='color:#b00'>Error:</b> {html.escape(e.message)}"
            return
        self.status.value = html.escape(message)

    def refresh(self) -> None:
        """Re-read installed plugins and the notebook's DataFrames."""
        plugins = self.system.list_plugins()
        rows = []
        for p in plugins:
            toggle = w.Checkbox(value=p["enabled"], description="enabled", indent=False)
            toggle.observe(self._toggler(p["name"]), names="value")
            rows.append(w.HBox([w.HTML(f"<b>{html.escape(p['name'])}</b> {p['version']} "
                                       f"<i>{html.escape(p['description'] or '')}</i>"), toggle]))
        self.installed.children = rows or [w.HTML("No plugins installed.")]
        _set_options(self.run_plugin, [p["name"] for p in plugins if p["enabled"]])
        _set_options(self.run_frame, sorted(
            name for name, value in self.namespace.items()
            if isinstance(value, pd.DataFrame) and not name.startswith("_")
        ))

    def _toggler(self, name: str) -> Callable[[dict[str, Any]], None]:
        def toggle(change: dict[str, Any]) -> None:
            self._guard(lambda: self._set_enabled(name, bool(change["new"])))

        return toggle

    def _set_enabled(self, name: str, enabled: bool) -> str:
        self.system.set_enabled(name, enabled)
        self.refresh()
        return f"{name} {'enabled' if enabled else 'disabled'}"

    def search(self) -> None:
        """Search the catalog and list hits with an Install button each."""

        def do() -> str:
            hits = self.system.search_results(self.query.value)
            rows = []
            for hit in hits:
                button = w.Button(
                    description="Installed" if hit.get("installed") else "Install",
                    disabled=bool(hit.get("installed")),
                )
                button.on_click(self._installer(hit["name"]))
                rows.append(w.HBox([w.HTML(_hit_html(hit)), button]))
            self.results.children = rows or [w.HTML("No plugin matches.")]
            return f"{len(hits)} plugin(s) found"

        self._guard(do)

    def _installer(self, name: str) -> Callable[[Any], None]:
        def install(_: Any) -> None:
            def do() -> str:
                result = self.system.install_from_marketplace({"name": name})
                self.system.set_enabled(name, True)
                self.refresh()
                self.search()
                return f"Installed and enabled {name} {result['version']}"

            self._guard(do)

        return install

    def run(self) -> None:
        """Run the chosen plugin on the chosen DataFrame; store the result as ``Save as``."""

        def do() -> str:
            if not self.run_plugin.value:
                raise PluginError("Choose an enabled plugin first.")
            frame = self.namespace.get(self.run_frame.value) if self.run_frame.value else None
            try:
                params = json.loads(self.run_params.value or "{}")
            except json.JSONDecodeError as e:
                raise PluginError(f"Parameters are not valid JSON: {e}") from None
            if not isinstance(params, dict):
                raise PluginError("Parameters must be a JSON object.")
            result = self.system.run_frame(self.run_plugin.value, frame, parameters=params)
            answer = result.answer
            self.result = result.data
            if answer["status"] != "succeeded":
                errors = "<br>".join(html.escape(str(e)) for e in answer.get("errors", []))
                self.output.value = f"<pre>{errors}</pre>"
                return f"{self.run_plugin.value}: {answer['status']}"
            shown_object = rendered(str(answer.get("kind", "")), result.data)
            if self.run_out.value:
                self.namespace[self.run_out.value] = shown_object
            self.rendered.outputs = ()
            if shown_object is not result.data:  # a figure, chart, report or file
                self.rendered.append_display_data(shown_object)
                shown = ""
            elif isinstance(result.data, pd.DataFrame):
                shown = result.data.head(20).to_html()
            else:
                shown = f"<pre>{html.escape(json.dumps(result.data, indent=2, default=str))}</pre>"
            logs = "".join(f"<li>{html.escape(str(x))}</li>" for x in answer.get("logs", []))
            self.output.value = shown + (f"<ul>{logs}</ul>" if logs else "")
            saved = f", saved as {self.run_out.value}" if self.run_out.value else ""
            return f"{self.run_plugin.value} succeeded in {answer.get('duration_ms', 0):.0f} ms{saved}"

        self._guard(do)
