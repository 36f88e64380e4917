"""A spec-like Python plugin: normalizes the numeric columns of a data frame."""

from typing import Any, Dict

import numpy as np
import pandas as pd


class GoodPy:
    def __init__(self, context: Dict[str, Any]):
        self.plugin_id = context.get("plugin_id", "good_py")

    def process_data(self, data: pd.DataFrame, parameters: Dict[str, Any]) -> pd.DataFrame:
        numeric = data.select_dtypes("number")
        if parameters.get("method", "zscore") == "minmax":
            span = (numeric.max() - numeric.min()).replace(0, np.nan)
            return (numeric - numeric.min()) / span
        return (numeric - numeric.mean()) / numeric.std(ddof=0).replace(0, np.nan)

    def execute(self, input_data: Dict[str, Any]) -> Dict[str, Any]:
        data = input_data.get("data")
        if data is None:
            raise ValueError("Missing required field: data")
        result = self.process_data(data, input_data.get("parameters", {}))
        return {
            "data": result,
            "metadata": {"plugin_id": self.plugin_id, "summary": result.to_json()},
            "logs": ["Processing completed"],
            "warnings": [],
            "errors": [],
        }
