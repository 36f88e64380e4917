"""Plugin results as notebook displays, by kind, and never as live HTML from the plugin.

``rendered(kind, data)`` wraps a run's ``data`` in an object IPython displays richly:

* a ``figure`` as ``image/png``, or an SVG as ``<img src="data:image/svg+xml;base64,...">``
  (an SVG in an ``img`` cannot run scripts, whatever it holds);
* a ``vega-lite`` chart as ``application/vnd.vegalite.v5+json`` (JupyterLab draws it);
* a ``report`` as HTML rendered here: Markdown with its raw HTML escaped, then sanitised
  (``safe_html``), or the plugin's HTML sanitised; the source is the ``text/plain`` view;
* a ``file`` as a download link (``save(path)`` writes it, as ``%omniplug run -o PATH`` does).

Frames and plain JSON are returned as they are (a DataFrame displays as a table).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from ..safe_html import markdown_to_html, sanitize_html


class Figure:
    """A PNG or SVG image from a plugin."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.media_type = str(data["media_type"])
        self.base64 = str(data["base64"])
        self.title = str(data.get("title") or "figure")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        text = f"<{self.title}: {self.media_type}>"
        if self.media_type == "image/png":
            return {"image/png": self.base64, "text/plain": text}
        image = (
            f'<img src="data:image/svg+xml;base64,{html.escape(self.base64)}" '
            f'alt="{html.escape(self.title)}"/>'
        )
        return {"text/html": image, "text/plain": text}


class VegaLite:
    """A Vega-Lite v5 chart with inline data (the contract refuses URLs)."""

    MEDIA_TYPE = "application/vnd.vegalite.v5+json"

    def __init__(self, data: dict[str, Any]) -> None:
        self.spec: dict[str, Any] = data["spec"]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {self.MEDIA_TYPE: self.spec, "text/plain": "<Vega-Lite chart>"}


class Report:
    """A Markdown or HTML report section, shown as sanitised HTML."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.media_type = str(data["media_type"])
        self.text = str(data["text"])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        shown = (
            markdown_to_html(self.text)
            if self.media_type == "text/markdown"
            else sanitize_html(self.text)
        )
        return {"text/html": shown, "text/plain": self.text}


class ExportedFile:
    """Bytes with a media type and a file name: a download link, or a file on disk."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.media_type = str(data["media_type"])
        self.file_name = str(data["file_name"])
        self.base64 = str(data["base64"])
        self.content = base64.b64decode(self.base64)

    def save(self, path: str | Path) -> Path:
        """Write the bytes to ``path`` (a folder: under the file's own name); return the path."""
        target = Path(path).expanduser()
        if target.is_dir():
            target = target / self.file_name
        target.write_bytes(self.content)
        return target

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        name = html.escape(self.file_name)
        link = (
            f'<a download="{name}" href="data:{html.escape(self.media_type)};base64,'
            f'{html.escape(self.base64)}">Download {name}</a> '
            f"({len(self.content)} bytes, {html.escape(self.media_type)})"
        )
        text = f"<{self.file_name}: {len(self.content)} bytes of {self.media_type}>"
        return {"text/html": link, "text/plain": text}


_DISPLAYS: dict[str, type[Figure | VegaLite | Report | ExportedFile]] = {
    "figure": Figure,
    "vega-lite": VegaLite,
    "report": Report,
    "file": ExportedFile,
}


def rendered(kind: str, data: Any) -> Any:
    """``data`` as its display object when ``kind`` is a document kind; else ``data`` itself."""
    display = _DISPLAYS.get(kind)
    return display(data) if display is not None and isinstance(data, dict) else data


def html_of(kind: str, data: Any) -> str | None:
    """Safe HTML of a document result for an HTML widget (None: not a document).

    An HTML widget cannot draw Vega-Lite: the chart's spec is shown as text, with the way to
    see it drawn.
    """
    shown = rendered(kind, data)
    if shown is data:
        return None
    if isinstance(shown, Figure) and shown.media_type == "image/png":
        return f'<img src="data:image/png;base64,{html.escape(shown.base64)}" alt="{html.escape(shown.title)}"/>'
    if isinstance(shown, VegaLite):
        spec = html.escape(json.dumps(shown.spec, indent=2)[:20000])
        return f"<p>A Vega-Lite chart: <code>display(result)</code> draws it.</p><pre>{spec}</pre>"
    return str(shown._repr_mimebundle_()["text/html"])
