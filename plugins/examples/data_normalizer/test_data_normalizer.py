"""Local test of the plugin class, no server needed: ``python -m unittest test_data_normalizer``
in this folder (or ``python -m pytest`` here). The numbers are the spec's request:
the rows [[1, 2, 3], [4, 5, 6], [7, 8, 9]] give columns 1-4-7, 2-5-8 and 3-6-9."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402 (after the folder is on sys.path)
from data_normalizer import DataNormalizer  # noqa: E402 (after the folder is on sys.path)

ROWS = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def run(data, **parameters):
    plugin = DataNormalizer({"plugin_id": "data_normalizer", "config": {"method": "zscore"}})
    return plugin.execute(
        {"data": data, "parameters": parameters, "extension_point": "preprocessing"}
    )


class DataNormalizerTest(unittest.TestCase):
    def test_zscore_uses_the_sample_standard_deviation(self):
        result = run(ROWS, method="zscore")
        for column in result["data"].columns:
            self.assertEqual(result["data"][column].tolist(), [-1.0, 0.0, 1.0])
        self.assertEqual(result["metadata"]["statistics"]["0"], {"center": 4.0, "scale": 3.0})

    def test_minmax_and_robust(self):
        self.assertEqual(run(ROWS, method="minmax")["data"][0].tolist(), [0.0, 0.5, 1.0])
        robust = run(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0]}), method="robust")
        self.assertEqual(robust["data"]["x"].tolist(), [-1.0, -0.5, 0.0, 0.5, 48.5])

    def test_text_columns_pass_through(self):
        frame = pd.DataFrame({"x": [1.0, 3.0], "name": ["a", "b"]})
        result = run(frame, method="minmax")
        self.assertEqual(result["data"]["name"].tolist(), ["a", "b"])
        self.assertEqual(result["metadata"]["passed_through_columns"], ["name"])

    def test_unknown_method_is_refused(self):
        with self.assertRaisesRegex(ValueError, "unknown method"):
            run(ROWS, method="log")


if __name__ == "__main__":
    unittest.main()
