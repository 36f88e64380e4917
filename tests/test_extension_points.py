"""Every extension point for real: declared contracts (JSON Schema), checked before and after a
run, results rendered by kind, the plugin's choice of input format, and a scaffold per point.

The spec's Best Practices snippets are held here verbatim (and compared with the spec when it
is at hand) and assembled into one plugin class, which must run unchanged in the sandbox with
``"input_format": "json"``: the new user's ``[sum(row) for row in data]`` on the spec's own body.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from omniscope_jupyter.config import open_system
from omniscope_jupyter.errors import InvalidRequest
from omniscope_jupyter.extension_points import BY_NAME, EXTENSION_POINTS, RESULT_KINDS
from omniscope_jupyter.notebook.render import (
    ExportedFile,
    Figure,
    Report,
    VegaLite,
    html_of,
    rendered,
)
from omniscope_jupyter.sandbox.contracts import check_outcome
from omniscope_jupyter.sandbox.jobs import PluginTarget, build_request
from omniscope_jupyter.sandbox.runner import RunOutcome
from omniscope_jupyter.sdk import create_project

from .api import assert_error, call, upload
from .examples.example_plugins import EXAMPLES, R_DRIVER, r_available
from .helpers import REPO, build_package
from .prereq import missing

SPEC = REPO.parent / "shared" / "SPEC-plugin-system-quickstart.md"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17).decode()
SVG = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>').decode()

# -- the spec's snippets, verbatim (Plugin File: the Python example; Best Practices 1-5) --------

SPEC_EXECUTE = '''def execute(self, input_data: Dict[str, Any]) -> Dict[str, Any]:
    """Execute plugin logic"""
    data = input_data.get('data')
    parameters = input_data.get('parameters', {})
    
    # Your custom processing
    result = self.process_data(data, parameters)
    
    return {
        'data': result,
        'metadata': {'plugin_id': self.plugin_id},
        'logs': ['Processing completed'],
        'warnings': [],
        'errors': []
    }
'''
SPEC_VALIDATE_INPUT = '''def validate_input(self, input_data: Dict[str, Any]) -> bool:
    if 'data' not in input_data:
        raise ValueError("Missing required field: data")
    
    if not isinstance(input_data['data'], list):
        raise ValueError("Data must be a list")
    
    return True
'''
SPEC_ERROR_HANDLING = '''try:
    result = self.process_data(data, parameters)
    return {
        'data': result,
        'errors': []
    }
except Exception as e:
    return {
        'data': None,
        'errors': [str(e)]
    }
'''
SPEC_CLEANUP = '''def cleanup(self):
    """Cleanup resources"""
    # Close files, connections, etc.
    pass
'''
SPEC_LOGGING = '''return {
    'data': result,
    'logs': [
        'Step 1 completed',
        'Step 2 completed',
        f'Processed {len(data)} items'
    ]
}
'''
SPEC_CONFIGURATION = '''def __init__(self, context: Dict[str, Any]):
    self.config = context.get('config', {})
    self.threshold = self.config.get('threshold', 0.5)
'''
SPEC_SNIPPETS = (
    SPEC_EXECUTE, SPEC_VALIDATE_INPUT, SPEC_ERROR_HANDLING, SPEC_CLEANUP, SPEC_LOGGING,
    SPEC_CONFIGURATION,
)  # fmt: skip


def spec_plugin_source() -> str:
    """One class: the spec's methods as they are, ``execute`` picking the answer style.

    The spec's own ``execute`` stays the default answer (kept as ``spec_execute``, since the
    class's ``execute`` first validates, as Best Practice 1 says to); the error-handling and
    logging snippets are the bodies of the other two styles.
    """

    def block(snippet: str, pad: int) -> str:
        return textwrap.indent(snippet, " " * pad)

    return (
        "from typing import Any, Dict\n\n\n"
        "class SpecPlugin:\n"
        + block(SPEC_CONFIGURATION, 4) + "\n"
        + block(SPEC_VALIDATE_INPUT, 4) + "\n"
        + block(SPEC_EXECUTE, 4)
        + "    spec_execute = execute\n\n"
        "    def process_data(self, data, parameters):\n"
        "        return [sum(row) for row in data]\n\n"
        + block(SPEC_CLEANUP, 4) + "\n"
        "    def execute(self, input_data):\n"
        "        self.validate_input(input_data)\n"
        "        data = input_data.get('data')\n"
        "        parameters = input_data.get('parameters', {})\n"
        "        if parameters.get('answer') == 'errors':\n"
        + block(SPEC_ERROR_HANDLING, 12)
        + "        if parameters.get('answer') == 'logs':\n"
        "            result = self.process_data(data, parameters)\n"
        + block(SPEC_LOGGING, 12)
        + "        if parameters.get('answer') == 'threshold':\n"
        "            return {'data': self.threshold}\n"
        "        return self.spec_execute(input_data)\n"
    )  # fmt: skip


def test_the_snippets_are_the_specs_own() -> None:
    source = spec_plugin_source()
    compile(source, "spec_plugin.py", "exec")
    if SPEC.is_file():  # the spec travels beside the repository, not in it
        text = SPEC.read_text(encoding="utf-8")
        assert all(f"```python\n{snippet}```" in text for snippet in SPEC_SNIPPETS)


def test_the_spec_plugin_in_process() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(spec_plugin_source(), "spec_plugin.py", "exec"), namespace)  # the test's own code
    plugin = namespace["SpecPlugin"]({"config": {"threshold": 0.9}})
    plugin.plugin_id = "spec_plugin"
    rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert plugin.execute({"data": rows, "parameters": {}})["data"] == [6, 15, 24]
    assert plugin.execute({"data": rows, "parameters": {"answer": "threshold"}}) == {"data": 0.9}
    with pytest.raises(ValueError, match="Data must be a list"):
        plugin.execute({"data": {"values": [1]}, "parameters": {}})


# -- the declared contracts ---------------------------------------------------------------------


def test_every_point_declares_a_valid_json_schema_contract() -> None:
    assert [p.name for p in EXTENSION_POINTS] == [
        "data_import", "data_export", "preprocessing", "feature_engineering", "analysis",
        "visualization", "model_training", "model_evaluation", "report_generation", "integration",
    ]  # fmt: skip
    for point in EXTENSION_POINTS:
        contract = point.to_dict()["contract"]
        Draft202012Validator.check_schema(contract["output_schema"])
        Draft202012Validator.check_schema(contract["input_schema"])
        assert set(contract["result_kinds"]) <= set(RESULT_KINDS)
    needs = {p.name for p in EXTENSION_POINTS if p.needs_input}
    assert needs == set(BY_NAME) - {"data_import", "analysis", "integration"}
    assert BY_NAME["preprocessing"].to_dict()["contract"]["same_row_count"] is True


async def test_rest_serves_the_contracts(jp_fetch: Any) -> None:
    status, body = await call(jp_fetch, "GET", "extension-points")
    assert status == 200 and body["count"] == 10
    by_name = {p["name"]: p for p in body["extension_points"]}
    viz = by_name["visualization"]
    assert viz["description"] == "Custom visualization types" and viz["input"] and viz["output"]
    data_schema = viz["contract"]["output_schema"]["properties"]["data"]
    figure = {"kind": "figure", "media_type": "image/png", "base64": PNG}
    assert not list(Draft202012Validator(data_schema).iter_errors(figure))
    assert list(Draft202012Validator(data_schema).iter_errors({"kind": "figure", "base64": PNG}))
    training = by_name["model_training"]["contract"]["output_schema"]
    assert training["properties"]["metadata"]["required"] == ["metrics"]


FRAME = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
VALID = [
    ("data_import", FRAME, {}),
    ("data_export", {"kind": "file", "media_type": "text/csv", "file_name": "a.csv", "base64": "YQ=="}, {}),
    ("preprocessing", FRAME, {}),
    ("feature_engineering", FRAME.assign(b=1), {}),
    ("analysis", {"anything": [1, "two"]}, {}),
    ("analysis", None, {}),
    ("visualization", {"kind": "figure", "media_type": "image/png", "base64": PNG}, {}),
    ("visualization", {"kind": "figure", "media_type": "image/svg+xml", "base64": SVG}, {}),
    ("visualization", {"kind": "vega-lite", "spec": {"mark": "bar", "data": {"values": []}}}, {}),
    ("model_training", FRAME, {"metrics": {"r2": 0.5, "auc": None}}),
    ("model_evaluation", {"mae": 1.0, "r2": None}, {}),
    ("model_evaluation", FRAME, {}),
    ("report_generation", {"kind": "report", "media_type": "text/markdown", "text": "# Hi"}, {}),
    ("integration", [1, 2], {}),
]  # fmt: skip


@pytest.mark.parametrize(("point", "data", "metadata"), VALID, ids=[f"{v[0]}-{i}" for i, v in enumerate(VALID)])
def test_results_that_keep_their_contract(point: str, data: Any, metadata: dict[str, Any]) -> None:
    assert BY_NAME[point].result_problems(data, metadata, rows_in=3) == []


def _svg(markup: str) -> str:
    return base64.b64encode(markup.encode()).decode()


BROKEN = [
    ("data_import", {"a": [1]}, {}, "must be a DataFrame (Python) or data.frame (R), not a JSON object"),
    ("visualization", FRAME, {}, "not a DataFrame"),
    ("visualization", None, {}, "not null (no data)"),
    ("visualization", {"kind": "figure", "media_type": "image/png", "base64": "aGVsbG8="}, {}, "not hold a PNG"),
    ("visualization", {"kind": "figure", "media_type": "image/png", "base64": "***"}, {}, "not valid base64"),
    ("visualization", {"kind": "figure", "media_type": "image/gif", "base64": PNG}, {}, "'image/gif' is not one of"),
    ("visualization", {"kind": "figure", "media_type": "image/svg+xml",
                       "base64": _svg('<svg onload="alert(1)"/>')}, {}, "event handler"),
    ("visualization", {"kind": "vega-lite", "spec": {"mark": "bar", "data": {"url": "https://x/d.csv"}}}, {},
     "inline (data.values) and no links; found spec.data.url"),
    ("visualization", {"kind": "vega-lite", "spec": {"data": {"values": []}}}, {}, "no mark"),
    ("data_export", {"kind": "file", "media_type": "text/csv", "file_name": "../x.csv", "base64": ""}, {},
     "does not match"),
    ("report_generation", "# just text", {}, "not a string"),
    ("model_training", FRAME, {}, "metadata.metrics must be metric name -> value"),
    ("model_training", FRAME, {"metrics": {"r2": "high"}}, "metadata.metrics must be"),
    ("model_evaluation", {"mae": "low"}, {}, "'low' is not of type"),
    ("analysis", {"kind": "figure", "media_type": "image/png"}, {}, "not a valid figure"),
]  # fmt: skip


@pytest.mark.parametrize(("point", "data", "metadata", "fragment"), BROKEN,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])  # fmt: skip
def test_results_that_break_their_contract(point: str, data: Any, metadata: Any, fragment: str) -> None:
    problems = BY_NAME[point].result_problems(data, metadata)
    assert problems and fragment in " ".join(problems), problems


def test_preprocessing_keeps_rows_unless_the_manifest_says_otherwise() -> None:
    point = BY_NAME["preprocessing"]
    assert "must keep the row count (3 row(s) in, 2 out)" in point.result_problems(FRAME[:2], {}, rows_in=3)[0]
    assert point.result_problems(FRAME[:2], {}, rows_in=3, changes_rows=True) == []
    assert BY_NAME["feature_engineering"].result_problems(FRAME[:2], {}, rows_in=3) == []


def _request(manifest: dict[str, Any], body: dict[str, Any], frame: Any = None) -> Any:
    target = PluginTarget("p", "1.0.0", Path("/nonexistent"), {"entry_point": "p.py", **manifest})
    return build_request("e1", target, body, max_timeout=60, frame=frame)


def test_check_outcome_fails_the_run_naming_the_contract_and_sanitises_html() -> None:
    request, _ = _request({"extension_points": ["visualization"], "permissions": ["read_data", "write_data"]},
                          {"input_data": {"a": [1]}})  # fmt: skip
    checked = check_outcome({}, request, RunOutcome("succeeded", data=FRAME, logs=["drew"]))
    assert checked.status == "failed" and checked.data is None and checked.logs == ["drew"]
    assert checked.errors[0].startswith("the result breaks the visualization contract: data must be")
    request, _ = _request({"extension_points": ["visualization"], "permissions": ["read_data"]},
                          {"input_data": {"a": [1]}})  # fmt: skip
    dropped = check_outcome({}, request, RunOutcome("succeeded", data=None))
    assert "lacks the write_data permission" in dropped.errors[0]
    request, _ = _request({"extension_points": ["report_generation"], "permissions": ["read_data", "write_data"]},
                          {"input_data": {"a": [1]}})  # fmt: skip
    html = {"kind": "report", "media_type": "text/html", "text": "<h2 onclick='x()'>Hi</h2><script>steal()</script>"}
    clean = check_outcome({}, request, RunOutcome("succeeded", data=html))
    assert clean.status == "succeeded" and clean.data["text"] == "<h2>Hi</h2>"
    assert clean.warnings == ["the report's HTML was sanitised (unsafe markup removed)"]
    failed = RunOutcome("failed", errors=["boom"])
    assert check_outcome({}, request, failed) is failed


def test_the_input_side_of_the_contracts() -> None:
    rw = {"permissions": ["read_data", "write_data"]}
    with pytest.raises(InvalidRequest, match="the preprocessing contract needs a table as input: send input_data"):
        _request({"extension_points": ["preprocessing"], **rw}, {})
    with pytest.raises(InvalidRequest, match="lacks the read_data permission"):
        _request({"extension_points": ["preprocessing"], "permissions": ["write_data"]}, {"input_data": {"a": [1]}})
    with pytest.raises(InvalidRequest, match="the visualization contract needs a table as input: input_data column"):
        _request({"extension_points": ["visualization"], "input_format": "json", **rw}, {"input_data": {"a": 1}})
    request, _ = _request({"extension_points": ["data_import"], "permissions": ["write_data"]}, {})
    assert request.data is None


def test_json_input_is_what_the_caller_sent_and_a_frame_becomes_records() -> None:
    rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    manifest = {"extension_points": ["analysis"], "input_format": "json", "permissions": ["read_data"]}
    request, _ = _request(manifest, {"input_data": rows})
    assert request.data == rows and request.data_table is None
    request, _ = _request(manifest, {"input_data": {"values": [1, 2]}})
    assert request.data == {"values": [1, 2]}
    frame = pd.DataFrame({"a": [1.5, None], "when": pd.to_datetime(["2024-01-01", None])})
    request, _ = _request(manifest, {}, frame=frame)
    assert request.data == [{"a": 1.5, "when": "2024-01-01T00:00:00.000000"}, {"a": None, "when": None}]
    request, _ = _request({**manifest, "input_format": "dataframe"}, {"input_data": rows})
    assert isinstance(request.data, pd.DataFrame) and request.data.shape == (3, 3)


# -- rendering by kind, safely ------------------------------------------------------------------


def test_results_render_by_kind_and_never_as_live_plugin_html(tmp_path: Path) -> None:
    png = rendered("figure", {"kind": "figure", "media_type": "image/png", "base64": PNG})
    assert isinstance(png, Figure) and png._repr_mimebundle_()["image/png"] == PNG
    svg = rendered("figure", {"kind": "figure", "media_type": "image/svg+xml", "base64": SVG})
    assert svg._repr_mimebundle_()["text/html"].startswith('<img src="data:image/svg+xml;base64,')
    chart = rendered("vega-lite", {"kind": "vega-lite", "spec": {"mark": "bar"}})
    assert isinstance(chart, VegaLite)
    assert chart._repr_mimebundle_()["application/vnd.vegalite.v5+json"] == {"mark": "bar"}
    report = rendered("report", {"kind": "report", "media_type": "text/markdown",
                                 "text": "# Sales\n\n<img src=x onerror=alert(1)> [x](javascript:alert(1))"})  # fmt: skip
    html = report._repr_mimebundle_()["text/html"]
    assert isinstance(report, Report) and "<h1>Sales</h1>" in html
    assert "<img" not in html and "&lt;img" in html and "javascript:" not in html
    given = rendered("report", {"kind": "report", "media_type": "text/html", "text": "<p>ok<script>x</script></p>"})
    assert given._repr_mimebundle_()["text/html"] == "<p>ok</p>"
    exported = rendered("file", {"kind": "file", "media_type": "text/csv", "file_name": "a.csv", "base64": "YSxiCg=="})
    assert isinstance(exported, ExportedFile)
    assert '<a download="a.csv" href="data:text/csv;base64,YSxiCg==">' in exported._repr_mimebundle_()["text/html"]
    assert exported.save(tmp_path).read_bytes() == b"a,b\n" and (tmp_path / "a.csv").is_file()
    assert rendered("frame", FRAME) is FRAME and rendered("json", {"x": 1}) == {"x": 1}
    # An HTML widget (the run form) gets the same safe views; a chart's spec is text there.
    assert html_of("figure", {"kind": "figure", "media_type": "image/png", "base64": PNG}).startswith(
        '<img src="data:image/png;base64,'
    )
    spec = html_of("vega-lite", {"kind": "vega-lite", "spec": {"mark": "bar", "title": "<b>x</b>"}})
    assert "&lt;b&gt;x&lt;/b&gt;" in spec and "<b>x" not in spec
    assert html_of("frame", FRAME) is None


def test_input_format_shows_in_details_and_the_marketplace(tmp_path: Path) -> None:
    system = open_system(str(tmp_path / "store"), user="analyst")
    try:
        archive = tmp_path / "webhook_notifier.tar.gz"
        subprocess.run(["tar", "-czf", str(archive), "webhook_notifier/"], cwd=EXAMPLES, check=True)
        system.publish(archive)
        published = system.catalog_entry("webhook_notifier")["versions_detail"][0]["manifest"]
        assert published["input_format"] == "json"
        system.install_from_marketplace({"name": "webhook_notifier"})
        assert system.details("webhook_notifier")["manifest"]["input_format"] == "json"
    finally:
        system.close()


# -- the SDK scaffold keeps its point's contract --------------------------------------------------


def test_sdk_create_takes_the_input_format(tmp_path: Path) -> None:
    made = create_project(tmp_path, {"name": "rows_plugin", "input_format": "json"})
    assert made["manifest"]["input_format"] == "json"
    source = (tmp_path / "rows_plugin" / "rows_plugin.py").read_text()
    assert 'input_format "json"' in source and "frame = pd.DataFrame(data)" in source
    assert "Input format: `json`" in (tmp_path / "rows_plugin" / "README.md").read_text()
    with pytest.raises(InvalidRequest, match="input_format: 'xml' must be one of"):
        create_project(tmp_path, {"name": "bad_plugin", "input_format": "xml"})


def _python_result(folder: Path, data: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile((folder / f"{folder.name}.py").read_text(), folder.name, "exec"), namespace)  # scaffold code
    cls = next(v for k, v in namespace.items() if isinstance(v, type) and k not in {"Any", "Dict"}
               and hasattr(v, "execute"))  # fmt: skip
    return dict(cls({"plugin_id": folder.name, "config": {}}).execute({"data": data, "parameters": {}}))


@pytest.mark.parametrize("input_format", ["dataframe", "json"])
def test_python_scaffolds_keep_their_points_contract(tmp_path: Path, input_format: str) -> None:
    columns = {"a": [1.0, 2.0, 3.0], "b": [4.0, 6.0, 5.0]}
    for point in EXTENSION_POINTS:
        name = f"s_{point.name}"
        create_project(tmp_path, {"name": name, "extension_points": [point.name], "input_format": input_format})
        data = None if point.name == "data_import" else (
            pd.DataFrame(columns) if input_format == "dataframe" else columns
        )
        result = _python_result(tmp_path / name, data)
        assert point.result_problems(result["data"], result["metadata"], rows_in=3) == [], point.name


def test_r_scaffolds_keep_their_points_contract(tmp_path: Path) -> None:
    if not r_available():
        missing("Rscript with jsonlite is not installed (scripts/setup.sh installs it)")
    for point in EXTENSION_POINTS:
        name = f"r_{point.name}"
        create_project(tmp_path, {"name": name, "language": "r", "extension_points": [point.name]})
        request = {"plugin_id": name, "parameters": {}, "config": {},
                   "data": None if point.name == "data_import" else {"a": [1, 2, 3], "b": [4, 6, 5]}}  # fmt: skip
        done = subprocess.run(
            ["Rscript", str(R_DRIVER), str(tmp_path / name / f"{name}.R")], input=json.dumps(request),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        data = result["data"]
        if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
            data = pd.DataFrame(data)  # the driver writes a data.frame as its columns
        assert point.result_problems(data, result["metadata"] or {}, rows_in=3) == [], point.name


# -- in the sandbox ----------------------------------------------------------------------------

SPEC_BODY = {
    "input_data": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
    "parameters": {"method": "custom"},
    "extension_point": "analysis",
}
R_ROWS = """
RowSums <- setRefClass("RowSums", fields = list(plugin_id = "character"), methods = list(
  execute = function(input_data) {
    rows <- input_data$data
    list(data = vapply(rows, function(row) sum(unlist(row)), numeric(1)),
         metadata = list(type = class(rows)[1], rows = length(rows)))
  }
))
"""
ECHO = '''
class Echo:
    def execute(self, input_data):
        return {"data": input_data["data"], "metadata": {"type": type(input_data["data"]).__name__}}
'''
FRAME_AT_VISUALIZATION = '''
import pandas as pd


class NotAChart:
    def execute(self, input_data):
        return {"data": pd.DataFrame({"x": [1]}), "logs": ["made a table"]}
'''


async def _install(jp_fetch: Any, archive: Path) -> str:
    status, body = await upload(jp_fetch, archive)
    assert status == 201, body
    await call(jp_fetch, "POST", body["plugin_id"], "enable")
    return str(body["plugin_id"])


def _package(tmp_path: Path, name: str, source: str, suffix: str = ".py", **manifest: Any) -> Path:
    return build_package(
        tmp_path / f"{name}.tar.gz", files={f"{name}{suffix}": source}, top=name, name=name,
        entry_point=f"{name}{suffix}", dependencies=[], **manifest,
    )  # fmt: skip


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("docker_ready")
async def test_the_spec_best_practices_run_unchanged_with_json_input(jp_fetch: Any, tmp_path: Path) -> None:
    archive = _package(
        tmp_path, "spec_plugin", spec_plugin_source(), input_format="json",
        config={"threshold": {"type": "number", "default": 0.5, "description": "a threshold"}},
    )  # fmt: skip
    name = await _install(jp_fetch, archive)

    async def run(**changes: Any) -> dict[str, Any]:
        body = {**SPEC_BODY, **changes}
        status, answer = await call(jp_fetch, "POST", name, "execute", body=body)
        assert status == 200, answer
        return dict(answer)

    answer = await run()  # the spec's body, the spec's execute: no "Data must be a list"
    assert answer["status"] == "succeeded", answer["errors"]
    assert (answer["data"], answer["kind"]) == ([6, 15, 24], "json")
    assert answer["metadata"] == {"plugin_id": "spec_plugin"}
    assert answer["logs"] == ["Processing completed"] and answer["errors"] == []
    answer = await run(parameters={"answer": "errors"})  # only data and errors: the rest default
    assert (answer["status"], answer["data"], answer["metadata"], answer["logs"]) == ("succeeded", [6, 15, 24], {}, [])
    answer = await run(parameters={"answer": "errors"}, input_data=[[1, "x"]])
    assert answer["status"] == "failed" and answer["data"] is None
    assert answer["errors"] == ["unsupported operand type(s) for +: 'int' and 'str'"]
    answer = await run(parameters={"answer": "logs"})
    assert answer["logs"] == ["Step 1 completed", "Step 2 completed", "Processed 3 items"]
    answer = await run(parameters={"answer": "threshold"}, config={"threshold": 0.8})
    assert answer["data"] == 0.8  # __init__(self, context) read the config
    answer = await run(input_data={"values": [1, 2, 3, 4, 5]})  # validate_input: a dict is no list
    assert answer["status"] == "failed" and "ValueError: Data must be a list" in answer["errors"][0]


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("docker_ready")
async def test_contracts_and_input_formats_in_the_sandbox(
    jp_fetch: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    viz = await _install(jp_fetch, _package(tmp_path, "not_a_chart", FRAME_AT_VISUALIZATION,
                                            extension_points=["visualization"]))  # fmt: skip
    status, answer = await call(jp_fetch, "POST", viz, "execute", body={"input_data": {"a": [1]}})
    assert status == 200 and answer["status"] == "failed", answer
    assert answer["errors"][0].startswith("the result breaks the visualization contract: data must be")
    assert answer["logs"] == ["made a table"] and (answer["data"], answer["kind"]) == (None, "none")
    status, answer = await call(jp_fetch, "POST", viz, "execute", body={})
    assert_error(status, answer, 400, "the visualization contract needs a table as input")

    rows = await _install(jp_fetch, _package(tmp_path, "row_sums", R_ROWS, ".R", language="r",
                                             input_format="json", config={}))  # fmt: skip
    status, answer = await call(jp_fetch, "POST", rows, "execute", body={"input_data": [[1, 2, 3], [4, 5, 6]]})
    assert answer["status"] == "succeeded", answer
    assert (answer["data"], answer["metadata"]) == ([6, 15], {"type": "list", "rows": 2})

    echo = await _install(jp_fetch, _package(tmp_path, "echo", ECHO, input_format="json", config={}))
    system = jp_serverapp.web_app.settings["omniscope_system"]
    result = await asyncio.to_thread(system.run_frame, echo, pd.DataFrame({"a": [1, 2], "b": ["x", None]}))
    assert result.answer["status"] == "succeeded", result.answer
    assert result.data == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]  # a notebook's frame: records
    assert result.answer["metadata"] == {"type": "list"}
