"""The marketplace panel: find, install and run plugins, read about them, review, rerun.

Plain ipywidgets over the notebook's client (``client.py``), so it works in JupyterLab, Notebook
and VS Code alike, through the server or in the kernel. Four tabs, each with its own status line
(an action reports there, never raising into the front-end):

* Marketplace: search; per plugin its README (rendered safely: its raw HTML escaped, the result
  sanitised, see ``safe_html``), versions, scan report, rating and reviews, a form to add one,
  and Install;
* Installed: enable or disable, open in Run or History;
* Run: a ``RunPanel`` form for the chosen plugin;
* History: the plugin's executions; show one (its logs and provenance) or rerun it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..core.system import PluginSystem
from ..errors import PluginError
from ..safe_html import markdown_to_html
from .client import PluginBackend, as_backend
from .history import describe
from .runpanel import RunPanel, error_html, set_options

TABS = ("Marketplace", "Installed", "Run", "History")


def _stars(rating: dict[str, Any] | None) -> str:
    rating = rating or {}
    count = int(rating.get("count") or 0)
    return f"★ {float(rating.get('average') or 0):.1f} ({count})" if count else "no ratings yet"


def hit_html(hit: dict[str, Any]) -> str:
    """One search result: name, newest version, description, rating (count), downloads."""
    rating = hit.get("rating") or {}
    stars = f" · {_stars(rating)}" if rating.get("count") else ""
    return (
        f"<b>{html.escape(str(hit['name']))}</b> {html.escape(str(hit.get('latest_version', '')))}"
        f" · {html.escape(str(hit.get('description') or ''))}{stars}"
        f" · {int(hit.get('downloads') or 0)} downloads"
    )


def versions_html(entry: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(v['version']))}</td>"
        f"<td>{html.escape(str(v.get('published_at') or ''))}</td>"
        f"<td>{html.escape(str(v.get('publisher') or ''))}</td>"
        f"<td>{int(v.get('downloads') or 0)}</td>"
        f"<td>{'passed' if (v.get('scan') or {}).get('passed') else 'refused'}</td></tr>"
        for v in entry.get("versions_detail", [])
    )
    head = "<tr><th>version</th><th>published</th><th>by</th><th>downloads</th><th>scan</th></tr>"
    return f"<table>{head}{rows}</table>"


def scan_html(report: dict[str, Any]) -> str:
    """A scan report: verdict, counts, and each finding (rule, file:line, message)."""
    counts = ", ".join(f"{n} {s}" for s, n in (report.get("counts") or {}).items())
    verdict = "passed" if report.get("passed") else "REFUSED"
    findings = "".join(
        f"<li>{html.escape(str(f.get('severity')))} {html.escape(str(f.get('rule_id')))} "
        f"{html.escape(str(f.get('file')))}:{f.get('line') or ''} "
        f"{html.escape(str(f.get('message')))}</li>"
        for f in report.get("findings") or []
    )
    return f"scan {verdict} ({html.escape(counts or 'no findings')})" + (
        f"<ul>{findings}</ul>" if findings else ""
    )


def reviews_html(page: dict[str, Any]) -> str:
    items = "".join(
        f"<li><b>{html.escape(str(r.get('user')))}</b> "
        f"{'★' * int(r.get('rating') or 0)} <small>{html.escape(str(r.get('at') or ''))}</small>"
        f"<br>{html.escape(str(r.get('text')))}</li>"
        for r in page.get("reviews", [])
    )
    return f"<ul>{items}</ul>" if items else "<i>No reviews yet.</i>"


class MarketplacePanel(w.VBox):
    """The four tabs over ``backend`` (a client, or a ``PluginSystem`` used in-process)."""

    def __init__(
        self,
        backend: PluginBackend | PluginSystem | None = None,
        namespace: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.backend = as_backend(backend)
        self.namespace = namespace if namespace is not None else {}
        self.statuses = {name: w.HTML() for name in TABS}

        self.query = w.Text(placeholder="search plugins (name, description, tags, author)")
        self.search_button = w.Button(description="Search", icon="search")
        self.search_button.on_click(lambda _b: self.search())
        self.results = w.VBox()
        self.details = w.VBox()
        self.review_text = w.Textarea(placeholder="Your review")
        self.review_rating = w.Dropdown(options=[("no rating", 0), *((str(n), n) for n in range(1, 6))])
        self.review_button = w.Button(description="Add review", icon="comment")
        self.review_button.on_click(lambda _b: self.add_review())
        self.shown_plugin: str | None = None

        self.installed = w.VBox()
        self.run_plugin = w.Dropdown(description="Plugin")
        self.run_plugin.observe(lambda _c: self._show_run_panel(), names="value")
        self.run_area = w.VBox()
        self.run_panel: RunPanel | None = None

        self.history_plugin = w.Dropdown(description="Plugin")
        self.history_plugin.observe(lambda _c: self.show_history(), names="value")
        self.history = w.VBox()
        self.execution_detail = w.HTML()

        pages = [
            [w.HBox([self.query, self.search_button]), self.results, self.details],
            [self.installed],
            [self.run_plugin, self.run_area],
            [self.history_plugin, self.history, self.execution_detail],
        ]
        self.tabs = w.Tab(
            children=[w.VBox([*page, self.statuses[name]]) for name, page in zip(TABS, pages, strict=True)]
        )
        for i, title in enumerate(TABS):
            self.tabs.set_title(i, title)
        super().__init__([self.tabs], **kwargs)
        self.refresh()
        self.search()

    # -- plumbing -------------------------------------------------------------------------------

    def _guard(self, tab: str, action: Callable[[], str]) -> None:
        """Run ``action``; its message (or the error it raised) goes to ``tab``'s status line."""
        try:
            message = action()
        except PluginError as e:
            self.statuses[tab].value = error_html(e.message)
            return
        self.statuses[tab].value = html.escape(message)

    def refresh(self) -> None:
        """Re-read installed plugins (Installed tab, Run and History choices)."""
        plugins = self.backend.list_plugins()
        rows = []
        for p in plugins:
            toggle = w.Checkbox(value=p["enabled"], description="enabled", indent=False)
            toggle.observe(self._toggler(p["name"]), names="value")
            run = w.Button(description="Run", icon="play", disabled=not p["enabled"])
            run.on_click(lambda _b, name=p["name"]: self.open_run(name))
            past = w.Button(description="History", icon="history")
            past.on_click(lambda _b, name=p["name"]: self.open_history(name))
            label = w.HTML(
                f"<b>{html.escape(p['name'])}</b> {html.escape(str(p['version']))} "
                f"<i>{html.escape(p.get('description') or '')}</i>"
            )
            rows.append(w.HBox([label, toggle, run, past]))
        self.installed.children = rows or [w.HTML("No plugins installed.")]
        set_options(self.run_plugin, [p["name"] for p in plugins if p["enabled"]])
        set_options(self.history_plugin, [p["name"] for p in plugins])

    def _toggler(self, name: str) -> Callable[[dict[str, Any]], None]:
        def toggle(change: dict[str, Any]) -> None:
            self._guard("Installed", lambda: self._set_enabled(name, bool(change["new"])))

        return toggle

    def _set_enabled(self, name: str, enabled: bool) -> str:
        self.backend.set_enabled(name, enabled)
        self.refresh()
        return f"{name} {'enabled' if enabled else 'disabled'}"

    # -- marketplace ------------------------------------------------------------------------------

    def search(self) -> None:
        """Search the catalog and list hits with Details and Install buttons."""

        def do() -> str:
            hits = self.backend.search(self.query.value)
            rows = []
            for hit in hits:
                more = w.Button(description="Details", icon="info")
                more.on_click(lambda _b, name=hit["name"]: self.show_details(name))
                install = w.Button(
                    description="Installed" if hit.get("installed") else "Install",
                    disabled=bool(hit.get("installed")),
                )
                install.on_click(lambda _b, name=hit["name"]: self.install(name))
                rows.append(w.HBox([w.HTML(hit_html(hit)), more, install]))
            self.results.children = rows or [w.HTML("No plugin matches.")]
            return f"{len(hits)} plugin(s) found"

        self._guard("Marketplace", do)

    def install(self, name: str) -> None:
        def do() -> str:
            result = self.backend.install_from_marketplace(name)
            self.backend.set_enabled(name, True)
            self.refresh()
            self.search()
            return f"Installed and enabled {name} {result['version']}"

        self._guard("Marketplace", do)

    def show_details(self, name: str) -> None:
        """README, versions, scan report, rating and reviews of a catalog plugin."""

        def do() -> str:
            entry = self.backend.catalog_entry(name)
            readme = self.backend.readme(name, entry.get("latest_version")).get("readme")
            reviews = self.backend.reviews(name)
            latest: dict[str, Any] = next(
                (v for v in entry.get("versions_detail", []) if v["version"] == entry.get("latest_version")),
                {},
            )
            report = latest.get("scan") or entry.get("scan") or {}
            if entry.get("installed"):
                report = self.backend.scan_report(name).get("report") or report
            self.shown_plugin = name
            self.details.children = [
                w.HTML(
                    f"<h3>{html.escape(name)} {html.escape(str(entry.get('latest_version')))}</h3>"
                    f"<i>{html.escape(str(entry.get('description') or ''))}</i> · by "
                    f"{html.escape(str(entry.get('author') or ''))} · {_stars(entry.get('rating'))}"
                ),
                w.HTML(markdown_to_html(readme) if readme else "<i>No README.</i>"),
                w.HTML("<b>Versions</b>" + versions_html(entry)),
                w.HTML("<b>Security scan</b> " + scan_html(report)),
                w.HTML("<b>Reviews</b>" + reviews_html(reviews)),
                w.HBox([self.review_text, self.review_rating, self.review_button]),
            ]
            return f"{name}: {len(entry.get('versions_detail', []))} version(s)"

        self._guard("Marketplace", do)

    def add_review(self) -> None:
        """Add the typed review (and rating) to the plugin shown, then show it again."""

        def do() -> str:
            if not self.shown_plugin:
                raise PluginError("Open a plugin's details first.")
            name = self.shown_plugin
            self.backend.review(name, self.review_text.value, self.review_rating.value or None)
            self.review_text.value = ""
            self.show_details(name)
            return f"Review added to {name}"

        self._guard("Marketplace", do)

    # -- run and history ---------------------------------------------------------------------------

    def open_run(self, name: str) -> None:
        self.run_plugin.value = name
        self._show_run_panel()
        self.tabs.selected_index = TABS.index("Run")

    def _show_run_panel(self) -> None:
        def do() -> str:
            name = self.run_plugin.value
            if not name:
                self.run_panel, self.run_area.children = None, ()
                return "Enable a plugin to run it."
            if self.run_panel is None or self.run_panel.plugin != name:
                self.run_panel = RunPanel(name, backend=self.backend, namespace=self.namespace)
                self.run_area.children = [self.run_panel]
            return f"{name}: fill in the form and press Run"

        self._guard("Run", do)

    def open_history(self, name: str) -> None:
        self.history_plugin.value = name
        self.show_history()
        self.tabs.selected_index = TABS.index("History")

    def show_history(self) -> None:
        """The chosen plugin's newest runs, each with Show and Rerun."""

        def do() -> str:
            name = self.history_plugin.value
            if not name:
                self.history.children = ()
                return "No plugins installed."
            page = self.backend.executions(name, page_size=20)
            rows = []
            for run in page["executions"]:
                label = w.HTML(
                    f"<code>{html.escape(run['execution_id'][:8])}</code> {html.escape(run['version'])} "
                    f"<b>{html.escape(run['status'])}</b> {html.escape(str(run.get('started_at') or ''))} "
                    f"{run.get('duration_ms') or 0:.0f} ms"
                )
                show = w.Button(description="Show", icon="eye")
                show.on_click(lambda _b, r=run: self.show_execution(r))
                again = w.Button(description="Rerun", icon="repeat")
                again.on_click(lambda _b, r=run: self.rerun(r))
                rows.append(w.HBox([label, show, again]))
            self.history.children = rows or [w.HTML("No runs yet.")]
            return f"{name}: {page['total']} run(s)"

        self._guard("History", do)

    def show_execution(self, run: dict[str, Any]) -> None:
        def do() -> str:
            record = self.backend.execution(run["plugin_id"], run["execution_id"])
            self.execution_detail.value = f"<pre>{html.escape(describe(record))}</pre>"
            return f"execution {run['execution_id'][:8]}: {record['status']}"

        self._guard("History", do)

    def rerun(self, run: dict[str, Any]) -> None:
        """Rerun a recorded execution in the Run tab (same version, parameters, config)."""

        def do() -> str:
            record = self.backend.execution(run["plugin_id"], run["execution_id"])
            self.open_run(run["plugin_id"])
            if self.run_panel is None or self.run_panel.plugin != run["plugin_id"]:
                raise PluginError(f"{run['plugin_id']} is disabled; enable it to rerun")
            self.run_panel.rerun(record)
            return f"rerunning {run['execution_id'][:8]} in the Run tab"

        self._guard("History", do)


__all__ = ["MarketplacePanel"]
