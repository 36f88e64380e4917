"""``RunPanel(plugin, df)``: a form to run one plugin, generated from its manifest's schema.

The form has a field per ``parameters`` and ``config`` entry (``forms.py``), free parameters as
JSON or YAML, the DataFrame and extension point to use, and where to save the result (a free
name by default: ``result``, ``result_2``, ..., never a variable the notebook already has). Run
validates the form first; while the plugin runs, Run is disabled and the panel shows status,
elapsed time, progress and the lines it prints; Cancel stops it (its container is removed).
The run happens on a thread so the notebook, and the Cancel button, stay responsive.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from ..core.system import PluginSystem
from ..errors import PluginError
from ..values import ExecutionStatus
from .client import PluginBackend, PluginResult, RunHandle, as_backend
from .forms import build_fields, field_row, parse_mapping, values
from .history import rerun, rerun_input
from .progress import RunState, follow
from .render import html_of

#: Shown in place of a variable name for a frame that is not one of the notebook's variables.
GIVEN_FRAME = "(the DataFrame given)"


def free_name(namespace: dict[str, Any], base: str = "result") -> str:
    """``base``, else ``base_2``, ``base_3``...: the first name the notebook does not use."""
    if base not in namespace:
        return base
    n = 2
    while f"{base}_{n}" in namespace:
        n += 1
    return f"{base}_{n}"


def frames_in(namespace: dict[str, Any]) -> list[str]:
    """The notebook's DataFrame variables (not the private ``_`` ones)."""
    return sorted(
        name for name, value in namespace.items()
        if isinstance(value, pd.DataFrame) and not name.startswith("_")
    )


def set_options(dropdown: w.Dropdown, options: list[str]) -> None:
    """New options, keeping the selection when it is still there, else the first option."""
    keep = dropdown.value
    dropdown.options = options
    dropdown.value = keep if keep in options else (options[0] if options else None)


def error_html(text: str) -> str:
    return f"<b style='color:#b00'>Error:</b> {html.escape(text)}"


def result_html(result: PluginResult) -> str:
    """The head of a result frame (or its JSON), its logs and warnings."""
    data = result.data
    document = html_of(str(result.answer.get("kind", "")), data)  # a figure, chart, report, file
    if document is not None:
        shown = document
    elif isinstance(data, pd.DataFrame):
        shown = data.head(20).to_html()
    else:
        shown = f"<pre>{html.escape(json.dumps(data, indent=2, default=str))}</pre>"
    notes = [*result.answer.get("logs", []), *(f"warning: {x}" for x in result.answer.get("warnings", []))]
    items = "".join(f"<li>{html.escape(str(x))}</li>" for x in notes)
    return shown + (f"<ul>{items}</ul>" if items else "")


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


class RunPanel(w.VBox):
    """A generated form that runs ``plugin`` on a DataFrame and shows the run and its result.

    Parameters
    ----------
    plugin:
        An installed plugin's name.
    df:
        The DataFrame to run on (default: the first of the notebook's DataFrames).
    backend:
        The client (default: the notebook's, see ``client.default_backend``).
    namespace:
        Where frames are found and results saved (default: the notebook's variables).
    """

    def __init__(
        self,
        plugin: str,
        df: pd.DataFrame | None = None,
        *,
        backend: PluginBackend | PluginSystem | None = None,
        namespace: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.backend = as_backend(backend)
        self.namespace = _user_namespace() if namespace is None else namespace
        self.plugin = plugin
        self.details = self.backend.details(plugin)
        manifest = self.details.get("manifest") or {}
        self.fields = build_fields(manifest)
        self.result: PluginResult | None = None
        self.handle: RunHandle | None = None
        self._thread: threading.Thread | None = None
        self._given = df

        self.frame = w.Dropdown(description="DataFrame", options=self._frame_options())
        if df is not None:
            self.frame.value = self._name_of(df)
        points = list(manifest.get("extension_points") or [])
        self.extension_point = w.Dropdown(
            description="Extension point", options=points, value=points[0] if points else None
        )
        self.extra = w.Textarea(
            description="More parameters",
            placeholder="JSON or YAML, e.g. method: zscore",
            style={"description_width": "initial"},
        )
        self.save_as = w.Text(value=free_name(self.namespace), description="Save as")
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.run_button.on_click(lambda _b: self.run())
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, description="")
        self.live = w.HTML()
        self.output = w.HTML()
        self.status = w.HTML()

        title = w.HTML(
            f"<b>{html.escape(plugin)}</b> {html.escape(str(self.details.get('version', '')))}"
            f" · <i>{html.escape(str(self.details.get('description') or ''))}</i>"
        )
        sections = []
        for section in ("parameters", "config"):
            rows = [field_row(f) for f in self.fields if f.section == section]
            if rows:
                sections.append(w.VBox([w.HTML(f"<b>{section.capitalize()}</b>"), *rows]))
        super().__init__(
            [
                title,
                w.HBox([self.frame, self.extension_point]),
                *sections,
                self.extra,
                self.save_as,
                w.HBox([self.run_button, self.cancel_button, self.progress]),
                self.live,
                self.output,
                self.status,
            ],
            **kwargs,
        )

    # -- frames ---------------------------------------------------------------------------------

    def _frame_options(self) -> list[str]:
        names = frames_in(self.namespace)
        if self._given is not None and self._name_of(self._given) == GIVEN_FRAME:
            names.insert(0, GIVEN_FRAME)
        return names

    def _name_of(self, frame: pd.DataFrame) -> str:
        found = [name for name in frames_in(self.namespace) if self.namespace[name] is frame]
        return found[0] if found else GIVEN_FRAME

    def chosen_frame(self) -> pd.DataFrame | None:
        if self.frame.value == GIVEN_FRAME:
            return self._given
        return self.namespace.get(self.frame.value) if self.frame.value else None

    # -- running -------------------------------------------------------------------------------

    def form_values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(parameters, config)`` from the form; ``PluginError`` listing every problem."""
        found, problems = values(self.fields)
        try:
            extra = parse_mapping(self.extra.value, "More parameters")
        except PluginError as e:
            problems.append(e.message)
            extra = {}
        if not self.save_as.value.isidentifier():
            problems.append(f"Save as: {self.save_as.value!r} is not a variable name")
        if problems:
            raise PluginError("; ".join(problems))
        return {**found["parameters"], **extra}, found["config"]

    def run(self) -> None:
        """Validate the form, then run on a thread (``wait`` joins it)."""
        if self.running:
            return
        try:
            parameters, config = self.form_values()
        except PluginError as e:
            self.status.value = error_html(e.message)
            return
        frame = self.chosen_frame()
        self._launch(
            lambda: self.backend.start(
                self.plugin,
                frame,
                parameters=parameters,
                config=config or None,
                extension_point=self.extension_point.value,
            )
        )

    def rerun(self, record: dict[str, Any]) -> None:
        """Run a recorded execution again (its version, parameters, config) on its input frame."""
        if self.running:
            return
        try:
            name, frame = rerun_input(self.namespace, record)
        except PluginError as e:
            self.status.value = error_html(e.message)
            return
        if name:
            self.frame.value = name
        self._launch(lambda: rerun(self.backend, record, frame))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _launch(self, start: Callable[[], RunHandle]) -> None:
        self.run_button.disabled = True
        self.output.value = self.live.value = ""
        self.progress.value = 0.0
        self.status.value = f"Starting {html.escape(self.plugin)}…"
        self._thread = threading.Thread(target=self._work, args=(start,), daemon=True)
        self._thread.start()

    def _work(self, start: Callable[[], RunHandle]) -> None:
        try:
            self.handle = start()
            self.cancel_button.disabled = False
            result = follow(self.handle, self._show)
            self._done(result)
        except PluginError as e:
            self.status.value = error_html(e.message)
        except Exception as e:  # noqa: BLE001 (a bug must still free the form: shown, not lost)
            self.status.value = error_html(f"{type(e).__name__}: {e}")
        finally:
            self.cancel_button.disabled = True
            self.run_button.disabled = False

    def _show(self, state: RunState) -> None:
        self.progress.value = state.fraction or 0.0
        self.live.value = state._repr_html_()

    def _done(self, result: PluginResult) -> None:
        self.result = result
        if result.status != ExecutionStatus.SUCCEEDED:
            errors = "; ".join(str(e) for e in result.answer.get("errors", []))
            self.status.value = error_html(f"{self.plugin} {result.status}: {errors}")
            return
        name = self.save_as.value
        self.namespace[name] = result.data
        self.output.value = result_html(result)
        took = result.answer.get("duration_ms") or 0
        self.status.value = html.escape(
            f"{self.plugin} succeeded in {took:.0f} ms, saved as {name} "
            f"(execution {result.execution_id[:8]})"
        )
        self.save_as.value = free_name(self.namespace)
        set_options(self.frame, self._frame_options())

    def cancel(self) -> None:
        """Cancel the run in progress (on a thread: the form stays responsive)."""
        handle = self.handle
        if handle is not None and self.running:
            self.cancel_button.disabled = True
            self.status.value = "Cancelling…"
            threading.Thread(target=handle.cancel, daemon=True).start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the run in progress to end (tests, scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["RunPanel", "error_html", "frames_in", "free_name", "set_options"]
