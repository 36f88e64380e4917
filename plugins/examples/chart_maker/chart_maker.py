"""Chart Maker: a histogram of one column or a scatter plot of two, as PNG, SVG or Vega-Lite.

The sandbox image has no plotting library, so the PNG is drawn here on a pixel grid and encoded
by hand (zlib + struct: signature, IHDR, IDAT, IEND); its axis labels use a 3x5 pixel font.
The SVG is plain markup (text escaped, no script). The Vega-Lite spec carries its data inline
(histogram: the bins; scatter: the points), as the visualization contract asks.

Result ``data``: ``{"kind": "figure", "media_type": "image/png" | "image/svg+xml", "base64"}``
or ``{"kind": "vega-lite", "spec": {...}}``; ``metadata`` holds the numbers drawn (bin edges and
counts, or the point count and ranges).
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from typing import Any

import numpy as np
import pandas as pd

CHARTS = ("histogram", "scatter")
FORMATS = ("png", "svg", "vega-lite")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 16, 36
BAR = (76, 114, 176)
AXIS = (60, 60, 60)
GRID = (225, 225, 225)
#: Scatter plots keep at most this many points (an evenly spaced sample beyond).
MAX_POINTS = 5000
#: A 3x5 pixel font for axis labels: each glyph is five rows of three bits.
GLYPHS = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 2, 2, 2),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0),
    "e": (0, 7, 7, 4, 7), "+": (0, 2, 7, 2, 0), " ": (0, 0, 0, 0, 0),
}  # fmt: skip


def png_bytes(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (``width * height * 3`` bytes, rows top to bottom)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class Canvas:
    """A white RGB pixel grid with rectangles, dots and tiny text."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: tuple[int, int, int]) -> None:
        left, right = sorted((round(x0), round(x1)))
        top, bottom = sorted((round(y0), round(y1)))
        left, right = max(0, left), min(self.width, max(right, left + 1))
        top, bottom = max(0, top), min(self.height, max(bottom, top + 1))
        if left >= right or top >= bottom:
            return
        row = bytes(color) * (right - left)
        for y in range(top, bottom):
            start = (y * self.width + left) * 3
            self.pixels[start : start + len(row)] = row

    def dot(self, x: float, y: float, radius: int, color: tuple[int, int, int]) -> None:
        for dy in range(-radius, radius + 1):
            half = int(math.sqrt(radius * radius - dy * dy))
            self.rect(x - half, y + dy, x + half + 1, y + dy + 1, color)

    def text(self, x: float, y: float, label: str, color: tuple[int, int, int], scale: int = 2) -> None:
        """Draw ``label`` with its top-left corner at (x, y); unknown characters are skipped."""
        for i, char in enumerate(label):
            for row, bits in enumerate(GLYPHS.get(char, GLYPHS[" "])):
                for col in range(3):
                    if bits & (4 >> col):
                        px, py = x + (i * 4 + col) * scale, y + row * scale
                        self.rect(px, py, px + scale, py + scale, color)

    def png(self) -> bytes:
        return png_bytes(self.width, self.height, bytes(self.pixels))


def label(value: float) -> str:
    return f"{value:.4g}".replace("e+0", "e").replace("e-0", "e-")


class ChartMaker:
    """The plugin: ``execute`` draws ``input_data['data']`` as the parameters ask."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "chart_maker")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        parameters = input_data.get("parameters") or {}
        settings = {**self.config, **(input_data.get("config") or {}), **parameters}
        chart = str(settings.get("chart", "histogram"))
        fmt = str(settings.get("format", "png"))
        if chart not in CHARTS:
            raise ValueError(f"unknown chart {chart!r}; use one of {', '.join(CHARTS)}")
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        frame = input_data.get("data")
        if not isinstance(frame, pd.DataFrame) or frame.empty:
            raise ValueError("no input data: send a table with at least one row")
        width = int(settings.get("width", 480))
        height = int(settings.get("height", 320))
        if not (120 <= width <= 2000 and 100 <= height <= 2000):
            raise ValueError("width must be 120-2000 and height 100-2000 pixels")
        warnings: list[str] = []
        if chart == "histogram":
            column = self._column(frame, settings.get("column"), "column")
            values = self._numbers(frame[column], column, warnings)
            bins = int(settings.get("bins", 10))
            if not 1 <= bins <= 200:
                raise ValueError("bins must be between 1 and 200")
            counts, edges = np.histogram(values, bins=bins)
            drawn = {"column": column, "bins": [float(e) for e in edges],
                     "counts": [int(c) for c in counts], "n": int(values.size)}  # fmt: skip
            title = str(settings.get("title") or f"Histogram of {column}")
            data = self._histogram(fmt, title, column, counts, edges, width, height)
        else:
            x = self._column(frame, settings.get("x"), "x")
            y = self._column(frame, settings.get("y"), "y", exclude=x)
            pairs = frame[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
            if len(pairs) < len(frame):
                warnings.append(f"{len(frame) - len(pairs)} row(s) without two numbers left out")
            if pairs.empty:
                raise ValueError(f"columns {x!r} and {y!r} have no row with two numbers")
            if len(pairs) > MAX_POINTS:
                warnings.append(f"{len(pairs)} points sampled down to {MAX_POINTS}")
                pairs = pairs.iloc[np.linspace(0, len(pairs) - 1, MAX_POINTS).astype(int)]
            xs, ys = pairs[x].to_numpy(float), pairs[y].to_numpy(float)
            drawn = {"x": x, "y": y, "n": int(xs.size),
                     "x_range": [float(xs.min()), float(xs.max())],
                     "y_range": [float(ys.min()), float(ys.max())]}  # fmt: skip
            title = str(settings.get("title") or f"{y} against {x}")
            data = self._scatter(fmt, title, x, y, xs, ys, width, height)
        return {
            "data": data,
            "metadata": {"plugin_id": self.plugin_id, "chart": chart, "format": fmt, **drawn},
            "logs": [f"{chart} of {drawn['n']} value(s) as {fmt}"],
            "warnings": warnings,
            "errors": [],
        }

    # -- input -------------------------------------------------------------------------------

    @staticmethod
    def _column(frame: pd.DataFrame, name: Any, what: str, exclude: str | None = None) -> str:
        by_name = {str(c): c for c in frame.columns}
        if name is None:
            numeric = [str(c) for c in frame.columns
                       if pd.api.types.is_numeric_dtype(frame[c]) and str(c) != exclude
                       and not pd.api.types.is_bool_dtype(frame[c])]  # fmt: skip
            if not numeric:
                raise ValueError(f"no numeric column to use as {what}; name one")
            return numeric[0]
        if str(name) not in by_name:
            raise ValueError(f"unknown column {name!r} for {what}")
        return str(name)

    @staticmethod
    def _numbers(series: pd.Series, column: str, warnings: list[str]) -> np.ndarray:
        values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(float)
        if values.size < len(series):
            warnings.append(f"{len(series) - values.size} missing or non-numeric value(s) of {column} left out")
        if values.size == 0:
            raise ValueError(f"column {column!r} has no numbers")
        return values

    # -- histogram -----------------------------------------------------------------------

    def _histogram(self, fmt: str, title: str, column: str, counts: np.ndarray, edges: np.ndarray,
                   width: int, height: int) -> dict[str, Any]:  # fmt: skip
        if fmt == "vega-lite":
            values = [{"bin_start": float(a), "bin_end": float(b), "count": int(c)}
                      for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]  # fmt: skip
            return self._vega(title, width, height, values, {
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "x": {"field": "bin_start", "type": "quantitative", "bin": {"binned": True},
                          "title": column},
                    "x2": {"field": "bin_end"},
                    "y": {"field": "count", "type": "quantitative", "title": "count"},
                },
            })  # fmt: skip
        plot = _Plot(width, height, (float(edges[0]), float(edges[-1])), (0.0, float(max(counts.max(), 1))))
        if fmt == "png":
            canvas = plot.canvas()
            for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True):
                if c:
                    canvas.rect(plot.x(a) + 1, plot.y(c), plot.x(b) - 1, plot.y(0), BAR)
            return _figure("image/png", canvas.png(), title)
        bars = "".join(
            f'<rect x="{plot.x(a) + 0.5:.1f}" y="{plot.y(c):.1f}" width="{max(plot.x(b) - plot.x(a) - 1, 0.5):.1f}" '
            f'height="{plot.y(0) - plot.y(c):.1f}" fill="rgb{BAR}"><title>{label(a)} to {label(b)}: {int(c)}</title></rect>'
            for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
        )
        return _figure("image/svg+xml", plot.svg(title, column, "count", bars), title)

    # -- scatter -----------------------------------------------------------------------------

    def _scatter(self, fmt: str, title: str, x: str, y: str, xs: np.ndarray, ys: np.ndarray,
                 width: int, height: int) -> dict[str, Any]:  # fmt: skip
        if fmt == "vega-lite":
            values = [{"x": float(a), "y": float(b)} for a, b in zip(xs, ys, strict=True)]
            return self._vega(title, width, height, values, {
                "mark": {"type": "point", "tooltip": True},
                "encoding": {
                    "x": {"field": "x", "type": "quantitative", "title": x, "scale": {"zero": False}},
                    "y": {"field": "y", "type": "quantitative", "title": y, "scale": {"zero": False}},
                },
            })  # fmt: skip
        plot = _Plot(width, height, _padded(xs), _padded(ys))
        if fmt == "png":
            canvas = plot.canvas()
            for a, b in zip(xs, ys, strict=True):
                canvas.dot(plot.x(a), plot.y(b), 2, BAR)
            return _figure("image/png", canvas.png(), title)
        dots = "".join(
            f'<circle cx="{plot.x(a):.1f}" cy="{plot.y(b):.1f}" r="2.5" fill="rgb{BAR}"/>' for a, b in zip(xs, ys, strict=True)
        )
        return _figure("image/svg+xml", plot.svg(title, x, y, dots), title)

    @staticmethod
    def _vega(title: str, width: int, height: int, values: list[dict[str, Any]],
              view: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        spec = {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": title,
            "width": width - MARGIN_LEFT - MARGIN_RIGHT,
            "height": height - MARGIN_TOP - MARGIN_BOTTOM,
            "data": {"values": values},
            **view,
        }
        return {"kind": "vega-lite", "spec": spec, "title": title}


def _padded(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.05 or max(abs(low) * 0.05, 0.5)
    return low - pad, high + pad


def _figure(media_type: str, content: bytes, title: str) -> dict[str, Any]:
    return {"kind": "figure", "media_type": media_type, "title": title,
            "base64": base64.b64encode(content).decode("ascii")}  # fmt: skip


class _Plot:
    """The plot area of a chart: data ranges to pixels, axes with min/max labels."""

    def __init__(self, width: int, height: int, xr: tuple[float, float], yr: tuple[float, float]) -> None:
        self.width, self.height = width, height
        self.xr = xr if xr[1] > xr[0] else (xr[0] - 0.5, xr[0] + 0.5)
        self.yr = yr if yr[1] > yr[0] else (yr[0] - 0.5, yr[0] + 0.5)
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        return self.left + (value - self.xr[0]) / (self.xr[1] - self.xr[0]) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.yr[0]) / (self.yr[1] - self.yr[0]) * (self.bottom - self.top)

    def ticks(self) -> list[float]:
        return [self.yr[0] + (self.yr[1] - self.yr[0]) * i / 4 for i in range(5)]

    def canvas(self) -> Canvas:
        canvas = Canvas(self.width, self.height)
        for tick in self.ticks():
            canvas.rect(self.left, self.y(tick), self.right, self.y(tick) + 1, GRID)
            text = label(tick)
            canvas.text(self.left - 6 - len(text) * 8, self.y(tick) - 5, text, AXIS)
        canvas.rect(self.left, self.bottom, self.right, self.bottom + 2, AXIS)
        canvas.rect(self.left - 2, self.top, self.left, self.bottom + 2, AXIS)
        low, high = label(self.xr[0]), label(self.xr[1])
        canvas.text(self.left, self.bottom + 8, low, AXIS)
        canvas.text(self.right - len(high) * 8, self.bottom + 8, high, AXIS)
        return canvas

    def svg(self, title: str, x_title: str, y_title: str, marks: str) -> bytes:
        esc = html.escape
        grid = "".join(
            f'<line x1="{self.left}" x2="{self.right}" y1="{self.y(t):.1f}" y2="{self.y(t):.1f}" stroke="#e1e1e1"/>'
            f'<text x="{self.left - 6}" y="{self.y(t) + 4:.1f}" text-anchor="end">{label(t)}</text>'
            for t in self.ticks()
        )
        axes = (
            f'<line x1="{self.left}" x2="{self.right}" y1="{self.bottom}" y2="{self.bottom}" stroke="#3c3c3c"/>'
            f'<line x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{self.bottom}" stroke="#3c3c3c"/>'
            f'<text x="{self.left}" y="{self.bottom + 16}">{label(self.xr[0])}</text>'
            f'<text x="{self.right}" y="{self.bottom + 16}" text-anchor="end">{label(self.xr[1])}</text>'
            f'<text x="{(self.left + self.right) / 2:.0f}" y="{self.height - 4}" text-anchor="middle">{esc(x_title)}</text>'
            f'<text x="12" y="{(self.top + self.bottom) / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {(self.top + self.bottom) / 2:.0f})">{esc(y_title)}</text>'
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family="sans-serif" font-size="11">'
            f"<title>{esc(title)}</title>"
            f'<rect width="100%" height="100%" fill="white"/>{grid}{marks}{axes}</svg>'
        ).encode()
