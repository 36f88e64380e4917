"""Every example plugin for real: installed through REST, run in the sandbox through REST and
through ``%omniplug run``, its result held to its extension point's contract.

The REST answers are also validated against the contract's own JSON Schema (what
``GET /api/plugins/extension-points`` serves), so the published schema and the answers cannot
drift apart. ``webhook_notifier`` is run against ``http://127.0.0.1:9/``: inside the container
that is its own loopback, where nothing listens, and the host is firewalled off from sandbox
containers; the run must fail with the clear connection error (its own folder test posts to a
real local webhook, in-process).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from jsonschema import Draft202012Validator

from omniscope_jupyter.config import open_system
from omniscope_jupyter.extension_points import BY_NAME
from omniscope_jupyter.notebook.client import LocalBackend
from omniscope_jupyter.notebook.magics import load
from omniscope_jupyter.notebook.render import ExportedFile, Figure
from omniscope_jupyter.sandbox.transfer import frame_from_input
from tests.api import call, upload
from tests.examples.example_plugins import EXAMPLES

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900), pytest.mark.usefixtures("docker_ready")]

HEIGHTS = [158, 162, 165, 170, 171, 174, 178, 181, 185, 192]
WEBHOOK = {"webhook_url": "http://127.0.0.1:9/hook", "timeout": 5}


@dataclass
class Case:
    """One example's request and what its REST answer must show."""

    point: str
    input_data: Any
    parameters: dict[str, Any]
    check: Callable[[dict[str, Any]], None]
    config: dict[str, Any] = field(default_factory=dict)
    kind: str = "frame"
    media_type: str | None = None


def _rows(answer: dict[str, Any]) -> list[list[Any]]:
    return list(answer["data"]["data"])


def _column(answer: dict[str, Any], name: str) -> list[Any]:
    position = answer["data"]["columns"].index(name)
    return [row[position] for row in answer["data"]["data"]]


def _decoded(answer: dict[str, Any]) -> bytes:
    return base64.b64decode(answer["data"]["base64"])


CASES: dict[str, Case] = {
    "data_normalizer": Case(
        "preprocessing", [[1, 2, 3], [4, 5, 6], [7, 8, 9]], {"method": "zscore"},
        lambda a: _rows(a) == [[-1.0] * 3, [0.0] * 3, [1.0] * 3] or pytest.fail(str(a["data"])),
    ),
    "outlier_detector": Case(
        "analysis", {"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]}, {},
        lambda a: _column(a, "is_outlier") == [False] * 9 + [True] or pytest.fail(str(a)),
    ),
    "correlation_analyzer": Case(
        "analysis", {"var1": [1, 2, 3, 4, 5], "var2": [2, 4, 6, 8, 10], "var3": [1, 3, 5, 7, 9]},
        {"method": "pearson", "threshold": 0.7},
        lambda a: len(a["metadata"]["significant_pairs"]) == 3 or pytest.fail(str(a)),
    ),
    "text_importer": Case(
        "data_import", None, {"text": "city,temp_c,day\nOslo,4.5,2024-03-01\nLima,19,2024-03-02\n"},
        lambda a: (a["data"]["columns"], _column(a, "city")) == (["city", "temp_c", "day"], ["Oslo", "Lima"])
        or pytest.fail(str(a["data"])),
    ),
    "frame_exporter": Case(
        "data_export", {"city": ["Oslo", "Lima"], "temp_c": [4.5, 19.0]}, {"file_name": "weather.csv"},
        lambda a: _decoded(a) == b"city,temp_c\nOslo,4.5\nLima,19.0\n" or pytest.fail(str(a)),
        kind="file", media_type="text/csv",
    ),
    "feature_builder": Case(
        "feature_engineering",
        {"ordered": ["2024-03-09", "2024-03-11"], "channel": ["web", "shop"], "qty": [1, 2], "price": [10.0, 5.0]},
        {"polynomial": ["qty", "price"]},
        lambda a: (_column(a, "ordered_dayofweek"), _column(a, "qty*price"), _column(a, "channel=web"))
        == ([5, 0], [10.0, 10.0], [1, 0]) or pytest.fail(str(a["data"])),
    ),
    "chart_maker": Case(
        "visualization", {"height_cm": HEIGHTS}, {"bins": 4},
        lambda a: (_decoded(a)[:8], a["metadata"]["counts"]) == (b"\x89PNG\r\n\x1a\n", [3, 3, 2, 2])
        or pytest.fail(str(a["metadata"])),
        kind="figure", media_type="image/png",
    ),
    "linear_model_trainer": Case(
        "model_training", {"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5]}, {"target": "y"},
        lambda a: abs(a["metadata"]["metrics"]["r2"] - 0.6) < 1e-9 or pytest.fail(str(a["metadata"])),
    ),
    "model_evaluator": Case(
        "model_evaluation", {"actual": [1, 2, 3, 4], "predicted": [0, 2, 4, 6]}, {},
        lambda a: (a["data"]["mae"], round(a["data"]["r2"], 9)) == (1, -0.2) or pytest.fail(str(a["data"])),
        kind="json",
    ),
    "markdown_reporter": Case(
        "report_generation", {"region": ["north", "south", "north"], "units": [10, 20, 30]},
        {"title": "Sales"},
        lambda a: "| units | 10 | 15 | 20 | 20 | 25 | 30 | 10 |" in a["data"]["text"] or pytest.fail(a["data"]["text"]),
        kind="report", media_type="text/markdown",
    ),
    "webhook_notifier": Case(
        "integration", [{"region": "north", "sales": 120}, {"region": "south", "sales": 80}],
        {"message": "Daily sales"}, lambda a: None, config=WEBHOOK,
    ),
}  # fmt: skip


def test_every_example_folder_has_a_case() -> None:
    folders = sorted(p.name for p in EXAMPLES.iterdir() if (p / "manifest.json").is_file())
    assert folders == sorted(CASES)
    covered = {json.loads((EXAMPLES / n / "manifest.json").read_text())["extension_points"][0] for n in folders}
    assert covered | {"analysis"} == set(BY_NAME), "an extension point without an example"


def _pack(tmp_path: Path, name: str) -> Path:
    archive = tmp_path / f"{name}.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), f"{name}/"], cwd=EXAMPLES, check=True)
    return archive


def _check_schema(point: str, answer: dict[str, Any]) -> None:
    """The answer's data and metadata validate against the point's published output schema."""
    schema = BY_NAME[point].output_schema()
    result = {key: answer[key] for key in ("data", "metadata", "logs", "warnings", "errors")}
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(result)]
    assert errors == [], (point, errors)


async def test_every_example_through_rest_and_the_magic(
    jp_fetch: Any, tmp_path: Path, store_dir: Path
) -> None:
    for name in CASES:
        status, body = await upload(jp_fetch, _pack(tmp_path, name))
        assert status == 201, body
        assert body["scan"]["passed"] and body["warnings"] == [], body
        await call(jp_fetch, "POST", name, "enable")

    for name, case in CASES.items():
        request = {"parameters": case.parameters, "extension_point": case.point, "config": case.config}
        if case.input_data is not None:
            request["input_data"] = case.input_data
        status, answer = await call(jp_fetch, "POST", name, "execute", body=request)
        assert status == 200, (name, answer)
        if name == "webhook_notifier":
            assert answer["status"] == "failed", answer
            assert answer["errors"][0].startswith("could not reach the webhook at 127.0.0.1"), answer
            assert answer["metadata"]["summary"]["rows"] == 2  # the records arrived as sent
            continue
        assert answer["status"] == "succeeded", (name, answer["errors"])
        assert (answer["kind"], answer["media_type"]) == (case.kind, case.media_type), name
        case.check(answer)
        _check_schema(case.point, answer)

    await asyncio.to_thread(_run_in_a_notebook, store_dir, tmp_path)


def _run_in_a_notebook(store_dir: Path, tmp_path: Path) -> None:
    """``%omniplug run`` of every example on DataFrames, in a shell on the server's store."""
    system = open_system(str(store_dir), user="analyst")
    ip = InteractiveShell.instance()
    try:
        load(ip, LocalBackend(system)).live = "print"
        for name, case in CASES.items():
            frame = "-"
            if case.input_data is not None:
                ip.user_ns["df"] = frame_from_input(case.input_data)
                frame = "df"
            config = " ".join(f"-c {k}={v}" for k, v in case.config.items())
            line = f"run {name} {frame} -e {case.point} {config}"
            if name == "webhook_notifier":
                with pytest.raises(UsageError, match="could not reach the webhook at 127.0.0.1"):
                    ip.run_cell_magic("omniplug", line, json.dumps(case.parameters))
                continue
            result = ip.run_cell_magic("omniplug", line, json.dumps(case.parameters))
            assert result.status == "succeeded", (name, result.answer["errors"])
            bundle, metadata = result._repr_mimebundle_()
            assert metadata["omniscope"]["execution_id"] == result.execution_id
            shown = {"frame": "text/html", "json": "text/plain", "figure": "image/png",
                     "report": "text/html", "file": "text/html"}[case.kind]  # fmt: skip
            assert shown in bundle, (name, sorted(bundle))
        # A figure shows as the image, a chart as Vega-Lite, a report rendered, a file as a link.
        ip.user_ns["df"] = frame_from_input(CASES["chart_maker"].input_data)
        chart = ip.run_line_magic("omniplug", "run chart_maker df -p format=vega-lite -p bins=2")
        spec = chart._repr_mimebundle_()[0]["application/vnd.vegalite.v5+json"]
        assert spec["data"]["values"][0]["count"] == 6
        ip.run_line_magic("omniplug", "run chart_maker df -p chart=histogram -o figure")
        assert isinstance(ip.user_ns["figure"], Figure)
        ip.user_ns["df"] = frame_from_input({"region": ["<b>north</b>"], "units": [1]})
        report = ip.run_line_magic("omniplug", "run markdown_reporter df -p title=Sales")
        html = report._repr_mimebundle_()[0]["text/html"]
        assert "<h2>Sales</h2>" in html and "&lt;b&gt;north&lt;/b&gt;" in html and "<b>" not in html
        ip.user_ns["df"] = frame_from_input(CASES["frame_exporter"].input_data)
        exported = ip.run_line_magic("omniplug", "run frame_exporter df")
        assert 'download="export.csv"' in exported._repr_mimebundle_()[0]["text/html"]
        target = tmp_path / "weather.parquet"
        ip.run_line_magic("omniplug", f"run frame_exporter df -p format=parquet -o {target}")
        assert target.read_bytes()[:4] == b"PAR1"
        assert not isinstance(ip.user_ns.get(str(target)), ExportedFile)
    finally:
        InteractiveShell.clear_instance()
        asyncio.run(system.shutdown())  # this thread has no event loop of its own
        system.close()
