"""Local test of the plugin class, no server needed: ``python -m unittest test_frame_exporter``
in this folder. Both files are read back (pandas, pyarrow) and compared with the input."""

import base64
import io
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402 (after the path set-up above)
import pyarrow.parquet as pq  # noqa: E402
from frame_exporter import FrameExporter  # noqa: E402

WEATHER = pd.DataFrame({"city": ["Oslo", "Lima"], "temp_c": [4.5, 19.0]})


def run(frame, **parameters):
    plugin = FrameExporter({"plugin_id": "frame_exporter", "config": {"compression": "zstd"}})
    return plugin.execute({"data": frame, "parameters": parameters, "extension_point": "data_export"})


class FrameExporterTest(unittest.TestCase):
    def test_csv_bytes(self):
        result = run(WEATHER, file_name="weather.csv")
        file = result["data"]
        self.assertEqual((file["kind"], file["media_type"], file["file_name"]),
                         ("file", "text/csv", "weather.csv"))
        self.assertEqual(base64.b64decode(file["base64"]), b"city,temp_c\nOslo,4.5\nLima,19.0\n")

    def test_parquet_keeps_the_types(self):
        frame = pd.DataFrame({
            "n": pd.array([1, None, 3], dtype="Int64"),
            "when": pd.to_datetime(["2024-01-01", "2024-06-01", None]).tz_localize("UTC"),
            "kind": pd.Categorical(["a", "b", "a"]),
        })
        result = run(frame, format="parquet")
        self.assertEqual(result["data"]["media_type"], "application/vnd.apache.parquet")
        back = pq.read_table(io.BytesIO(base64.b64decode(result["data"]["base64"]))).to_pandas()
        pd.testing.assert_frame_equal(back, frame)
        self.assertEqual(result["metadata"]["compression"], "zstd")

    def test_bad_parameters(self):
        with self.assertRaisesRegex(ValueError, "plain file name"):
            run(WEATHER, file_name="../etc/passwd")
        with self.assertRaisesRegex(ValueError, "unknown format"):
            run(WEATHER, format="xlsx")
        with self.assertRaisesRegex(ValueError, "unknown column"):
            run(WEATHER, columns=["rain"])


if __name__ == "__main__":
    unittest.main()
