"""Local test of the plugin class, no server needed:
``python -m unittest test_linear_model_trainer`` in this folder.

x = 1..5, y = 2, 4, 5, 4, 5: the least-squares line is y = 2.2 + 0.6 x with r2 = 0.6 (a
textbook example). The logistic fit is checked by its score equations X'(y - p) = 0.
"""

import math
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402 (after the path set-up above)
import pandas as pd  # noqa: E402
from linear_model_trainer import LinearModelTrainer, _auc  # noqa: E402


def train(frame, **parameters):
    plugin = LinearModelTrainer({"plugin_id": "linear_model_trainer", "config": {}})
    return plugin.execute({"data": frame, "parameters": parameters, "extension_point": "model_training"})


class LinearModelTrainerTest(unittest.TestCase):
    def test_least_squares_textbook_numbers(self):
        result = train(pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5]}), target="y")
        coefficients = result["metadata"]["coefficients"]
        self.assertAlmostEqual(coefficients["intercept"], 2.2)
        self.assertAlmostEqual(coefficients["x"], 0.6)
        metrics = result["metadata"]["metrics"]
        self.assertAlmostEqual(metrics["r2"], 0.6)
        self.assertAlmostEqual(metrics["rmse"], math.sqrt(2.4 / 5))
        # sigma^2 = 2.4 / 3; Var(slope) = sigma^2 / sum((x - 3)^2) = 0.8 / 10
        self.assertAlmostEqual(result["data"]["std_error"][1], math.sqrt(0.08))
        self.assertEqual(result["metadata"]["model"], "linear")

    def test_logistic_solves_the_score_equations(self):
        rng = np.random.default_rng(7)
        x = rng.normal(size=300)
        y = rng.uniform(size=300) < 1 / (1 + np.exp(-(0.5 + 2 * x)))
        result = train(pd.DataFrame({"x": x, "bought": y}), target="bought")
        self.assertEqual(result["metadata"]["model"], "logistic")
        self.assertIs(result["metadata"]["positive_class"], True)
        beta = result["data"]["estimate"].to_numpy()
        design = np.column_stack([np.ones(300), x])
        p = 1 / (1 + np.exp(-design @ beta))
        self.assertLess(np.max(np.abs(design.T @ (y - p))), 1e-6)
        self.assertAlmostEqual(beta[1], 2, delta=0.6)
        self.assertGreater(result["metadata"]["metrics"]["auc"], 0.8)

    def test_auc_counts_pairs(self):
        # Positives 0.8, 0.4; negatives 0.5, 0.1: 3 of 4 pairs ordered right.
        self.assertEqual(_auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.4, 0.5, 0.1])), 0.75)

    def test_bad_parameters(self):
        frame = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "c"], "y": [1.0, 2.0, 4.0]})
        with self.assertRaisesRegex(ValueError, "target must name a column"):
            train(frame)
        with self.assertRaisesRegex(ValueError, "not numeric"):
            train(frame, target="y", features=["label"])


if __name__ == "__main__":
    unittest.main()
