"""Local test of the plugin class, no server needed: ``python -m unittest test_chart_maker`` in
this folder. The PNG is decoded back (zlib) and checked pixel by pixel where bars must be."""

import base64
import struct
import sys
import unittest
import zlib
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402 (after the path set-up above)
from chart_maker import BAR, ChartMaker  # noqa: E402

HEIGHTS = [158, 162, 165, 170, 171, 174, 178, 181, 185, 192]


def run(data, **parameters):
    return ChartMaker({"plugin_id": "chart_maker", "config": {}}).execute(
        {"data": pd.DataFrame(data), "parameters": parameters, "extension_point": "visualization"}
    )


def decode_png(raw):
    """(width, height, rows of RGB bytes) of an unfiltered 8-bit RGB PNG."""
    width, height = struct.unpack(">II", raw[16:24])
    pos, idat = 8, b""
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind = raw[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += raw[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    stride = width * 3 + 1
    return width, height, [pixels[y * stride + 1 : (y + 1) * stride] for y in range(height)]


class ChartMakerTest(unittest.TestCase):
    def test_histogram_png_counts_and_pixels(self):
        result = run({"height_cm": HEIGHTS}, bins=4)
        self.assertEqual(result["metadata"]["counts"], [3, 3, 2, 2])
        self.assertEqual(result["metadata"]["bins"], [158.0, 166.5, 175.0, 183.5, 192.0])
        figure = result["data"]
        self.assertEqual((figure["kind"], figure["media_type"]), ("figure", "image/png"))
        width, height, rows = decode_png(base64.b64decode(figure["base64"]))
        self.assertEqual((width, height), (480, 320))
        # The first bar (count 3 of max 3) fills the plot's height just above the x axis.
        self.assertEqual(rows[height - 40][60 * 3 : 60 * 3 + 3], bytes(BAR))

    def test_scatter_svg_is_plain_markup(self):
        data = {"x": [1, 2, 3, None], "y<&>": [2.0, 4.0, 6.0, 8.0]}
        result = run(data, chart="scatter", format="svg", x="x", y="y<&>")
        svg = base64.b64decode(result["data"]["base64"]).decode()
        self.assertTrue(svg.startswith("<svg") and svg.count("<circle") == 3)
        self.assertIn("y&lt;&amp;&gt;", svg)
        self.assertNotIn("<script", svg)
        self.assertEqual(result["warnings"], ["1 row(s) without two numbers left out"])

    def test_vega_lite_carries_the_bins_inline(self):
        spec = run({"height_cm": HEIGHTS}, bins=2, format="vega-lite")["data"]["spec"]
        self.assertEqual(spec["data"]["values"][0], {"bin_start": 158.0, "bin_end": 175.0, "count": 6})
        self.assertEqual(spec["mark"]["type"], "bar")

    def test_bad_parameters(self):
        with self.assertRaisesRegex(ValueError, "unknown chart"):
            run({"a": [1]}, chart="pie")
        with self.assertRaisesRegex(ValueError, "unknown column"):
            run({"a": [1]}, column="b")


if __name__ == "__main__":
    unittest.main()
