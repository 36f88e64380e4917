"""Local test of the plugin class, no server needed: ``python -m unittest test_outlier_detector``
in this folder. 1..9 and 100: Q1 = 3.25, Q3 = 7.75, IQR = 4.5, so the fences are -3.5 and 14.5."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402 (after the folder is on sys.path)
from outlier_detector import OutlierDetector  # noqa: E402 (after the folder is on sys.path)

VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]


def run(data, **parameters):
    plugin = OutlierDetector({"plugin_id": "outlier_detector", "config": {}})
    return plugin.execute({"data": data, "parameters": parameters, "extension_point": "analysis"})


class OutlierDetectorTest(unittest.TestCase):
    def test_iqr_fences(self):
        result = run(pd.DataFrame({"x": VALUES, "tag": list("abcdefghij")}))
        self.assertEqual(result["data"]["is_outlier"].tolist(), [False] * 9 + [True])
        self.assertEqual(
            result["metadata"]["columns"]["x"], {"lower": -3.5, "upper": 14.5, "outliers": 1}
        )
        self.assertEqual(result["data"]["tag"].tolist(), list("abcdefghij"))

    def test_zscore_threshold(self):
        self.assertEqual(run({"x": VALUES}, method="zscore")["metadata"]["outlier_rows"], [])
        self.assertEqual(
            run({"x": VALUES}, method="zscore", threshold=2)["metadata"]["outlier_rows"], [9]
        )

    def test_unknown_column_is_refused(self):
        with self.assertRaisesRegex(ValueError, "not numeric"):
            run({"x": VALUES}, columns=["y"])


if __name__ == "__main__":
    unittest.main()
