"""The ten platform extension points a plugin can hook into, with their data contracts."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ExtensionPoint:
    """One hook of the platform: what a plugin receives there and what it must return."""

    name: str
    description: str
    input: str
    output: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


_FRAME_IN = "input_data.data: a DataFrame (Python: pandas.DataFrame, R: data.frame); parameters: dict"

EXTENSION_POINTS: tuple[ExtensionPoint, ...] = (
    ExtensionPoint(
        "data_import",
        "Import data from external sources",
        "parameters: source description (e.g. URL, query); data: optional seed frame",
        "data: the imported DataFrame",
    ),
    ExtensionPoint(
        "data_export",
        "Export data to external formats",
        _FRAME_IN,
        "data: optional frame; metadata: where and how the data was exported",
    ),
    ExtensionPoint(
        "preprocessing",
        "Data preprocessing and transformation",
        _FRAME_IN,
        "data: the transformed DataFrame (same rows unless documented)",
    ),
    ExtensionPoint(
        "feature_engineering",
        "Feature extraction and engineering",
        _FRAME_IN,
        "data: the input frame with new feature columns",
    ),
    ExtensionPoint(
        "analysis",
        "Custom analysis algorithms",
        _FRAME_IN,
        "data: a result frame or dict; metadata: summary statistics",
    ),
    ExtensionPoint(
        "visualization",
        "Custom visualization types",
        _FRAME_IN,
        "data: a plot specification (e.g. Vega-Lite dict) or an encoded image in metadata",
    ),
    ExtensionPoint(
        "model_training",
        "Custom ML model training",
        _FRAME_IN + " (features and target column named in parameters)",
        "data: predictions or coefficients frame; metadata: training metrics",
    ),
    ExtensionPoint(
        "model_evaluation",
        "Custom model evaluation metrics",
        _FRAME_IN + " (true and predicted columns named in parameters)",
        "data: a metrics frame or dict; metadata: metric definitions",
    ),
    ExtensionPoint(
        "report_generation",
        "Custom report sections",
        _FRAME_IN,
        "data: report section (markdown or HTML text as a string) and metadata",
    ),
    ExtensionPoint(
        "integration",
        "Integration with external services",
        "parameters: service-specific; data: optional frame (needs the network permission to reach out)",
        "data: the service's answer as a frame or dict; metadata: call details",
    ),
)

EXTENSION_POINT_NAMES: frozenset[str] = frozenset(p.name for p in EXTENSION_POINTS)
