"""Local test of the plugin class, no server needed: ``python -m unittest test_feature_builder``
in this folder. 2024-03-09 is a Saturday; 2024-03-11 a Monday."""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402 (after the path set-up above)
from feature_builder import FeatureBuilder  # noqa: E402

ORDERS = pd.DataFrame({
    "ordered": ["2024-03-09", "2024-03-11", None],
    "channel": ["web", "shop", "web"],
    "qty": [1, 2, 3],
    "price": [10.0, 5.0, 2.0],
})


def run(frame, **parameters):
    plugin = FeatureBuilder({"plugin_id": "feature_builder", "config": {"max_categories": 20}})
    return plugin.execute({"data": frame, "parameters": parameters})


class FeatureBuilderTest(unittest.TestCase):
    def test_dates_one_hot_and_polynomial(self):
        result = run(ORDERS, polynomial=["qty", "price"])
        out = result["data"]
        self.assertEqual(out["ordered_dayofweek"].tolist(), [5, 0, pd.NA])
        self.assertEqual(out["ordered_is_weekend"].tolist(), [True, False, pd.NA])
        self.assertEqual(out["ordered_month"].tolist()[:2], [3, 3])
        self.assertEqual(out["channel=web"].tolist(), [1, 0, 1])
        self.assertEqual(out["channel=shop"].tolist(), [0, 1, 0])
        self.assertEqual(out["qty^2"].tolist(), [1.0, 4.0, 9.0])
        self.assertEqual(out["qty*price"].tolist(), [10.0, 10.0, 6.0])
        self.assertEqual(len(out), 3)
        pd.testing.assert_frame_equal(out[list(ORDERS.columns)], ORDERS)
        self.assertEqual(result["metadata"]["added_columns"]["one_hot"], ["channel=shop", "channel=web"])

    def test_hours_only_when_there_are_times(self):
        frame = pd.DataFrame({"at": pd.to_datetime(["2024-01-01 08:30", "2024-01-02 17:00"])})
        self.assertEqual(run(frame)["data"]["at_hour"].tolist(), [8, 17])
        self.assertNotIn("ordered_hour", run(ORDERS)["data"].columns)

    def test_bad_parameters(self):
        with self.assertRaisesRegex(ValueError, "not numeric"):
            run(ORDERS, polynomial=["channel"])
        with self.assertRaisesRegex(ValueError, "not ISO 8601"):
            run(ORDERS, date_columns=["channel"])


if __name__ == "__main__":
    unittest.main()
