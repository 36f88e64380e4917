"""The plugin SDK: scaffolds a new plugin project that installs unchanged once packed.

The scaffold's processing depends on the first extension point (its result must keep that
point's contract: a chart for visualization, a file for data_export...) and on ``input_format``
(a DataFrame, or the caller's JSON made a table), in Python or R.
"""

from __future__ import annotations

import argparse
import json
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

from .errors import Conflict, InvalidRequest, PluginError
from .extension_points import BY_NAME, RESULT_KINDS
from .manifest import INPUT_FORMATS, validate_manifest

_TEMPLATES = files("omniscope_jupyter") / "sdk_templates"
#: Fields of the spec's create request, with defaults for the optional ones.
CREATE_DEFAULTS: dict[str, Any] = {
    "language": "python",
    "author": "Your Name",
    "author_email": "",
    "description": "My custom plugin",
    "category": "analysis",
    "tags": [],
    "extension_points": ["analysis"],
    "dependencies": [],
    "permissions": ["read_data", "write_data"],
    "version": "1.0.0",
    "input_format": "dataframe",
}
#: The scaffold's processing (``sdk_templates/<language>/<family>``) per extension point.
FAMILIES = {
    "data_import": "import",
    "data_export": "file",
    "preprocessing": "same_rows",
    "feature_engineering": "features",
    "analysis": "summary",
    "visualization": "chart",
    "model_training": "model",
    "model_evaluation": "metrics",
    "report_generation": "report",
    "integration": "summary",
}
#: The spec's example parameter (its execute call sends ``{"method": "custom"}``); every
#: scaffold declares it beside what its family's processing reads, so calls are checked.
METHOD_PARAMETER = {
    "type": "string",
    "default": "custom",
    "choices": ["custom"],
    "description": "Which processing to run; add a choice for each method you implement",
}


def _text(description: str, default: str | None = None) -> dict[str, Any]:
    entry = {"type": "string", "description": description}
    return entry if default is None else {**entry, "default": default}


#: What each family's processing reads from ``parameters`` (``sdk_templates/<language>/``).
FAMILY_PARAMETERS: dict[str, dict[str, Any]] = {
    "import": {"text": _text("CSV text to import (default: a two-row sample)")},
    "file": {"file_name": _text("Name of the exported file (default: <name>.csv)")},
    "features": {"name": _text("Name of the added column", "row_sum")},
    "metrics": {
        "actual": _text("Column of the actual values (default: the first)"),
        "predicted": _text("Column of the predicted values (default: the second)"),
    },
    "model": {"target": _text("Column to predict (default: the last numeric one)")},
    "report": {"title": _text("Title of the report section", "Summary")},
}
#: Imports each family's Python code needs beyond typing and pandas: (stdlib, third party).
PYTHON_IMPORTS = {"import": ("import io\n", ""), "file": ("import base64\n", ""),
                  "model": ("", "import numpy as np\n")}  # fmt: skip
INPUT_DOCS = {
    "dataframe": ("``data`` is a pandas DataFrame.", "a data.frame"),
    "json": (
        '``data`` is the caller\'s input_data exactly as sent (input_format "json"): a list of\n'
        "    rows stays a list, a dict a dict; a notebook's DataFrame arrives as a list of records.",
        'the caller\'s input_data exactly as sent (input_format "json"), a list or named list',
    ),
}
_FRAME_LINES = {
    ("python", "dataframe"): '        if data is None:\n            raise ValueError("Missing required '
    'field: data")\n        frame = data\n',
    ("python", "json"): '        if data is None:\n            raise ValueError("Missing required '
    'field: data")\n        # input_format "json": data is what the caller sent; made a table here.'
    "\n        frame = pd.DataFrame(data)\n",
    ("python", "import"): "        frame = data  # data_import needs no input: the source is in "
    "the parameters\n",
    ("r", "dataframe"): '      if (is.null(data)) stop("Missing required field: data")\n'
    "      frame <- data\n",
    ("r", "json"): '      if (is.null(data)) stop("Missing required field: data")\n'
    '      # input_format "json": data is what the caller sent; made a table here.\n'
    "      frame <- if (is.null(names(data))) Reduce(rbind, lapply(data, as.data.frame))"
    " else as.data.frame(data)\n",
    ("r", "import"): "      frame <- data  # data_import needs no input: the source is in the "
    "parameters\n",
}
_TEST_DATA = {
    ("python", "dataframe"): 'pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})',
    ("python", "json"): '{"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}',
    ("r", "dataframe"): "data.frame(a = c(1, 2, 3), b = c(4, 5, 6))",
    ("r", "json"): "list(a = c(1, 2, 3), b = c(4, 5, 6))",
}


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) or "Plugin"


def _render(template: str, **values: Any) -> str:
    return (_TEMPLATES / template).read_text(encoding="utf-8").format(**values)


def _values(manifest: dict[str, Any], kind: str) -> dict[str, Any]:
    """What the templates are filled with, for a validated manifest and a language."""
    name = str(manifest["name"])
    point = BY_NAME[manifest["extension_points"][0]]
    family = FAMILIES[point.name]
    input_format = str(manifest["input_format"])
    stdlib, third_party = PYTHON_IMPORTS.get(family, ("", ""))
    reads = "import" if family == "import" else input_format
    return {
        "name": name,
        "class_name": _class_name(name),
        "description": manifest["description"],
        "language": manifest["language"],
        "author": manifest["author"],
        "entry_point": manifest["entry_point"],
        "extension_points": ", ".join(manifest["extension_points"]),
        "extension_point": point.name,
        "family": family,
        "input_format": input_format,
        "input_doc": INPUT_DOCS[input_format][0],
        "r_input_doc": INPUT_DOCS[input_format][1],
        "result_shape": " or ".join(RESULT_KINDS[k].shape for k in point.results),
        "stdlib": stdlib,
        "third_party": third_party,
        "frame_line": _FRAME_LINES[(kind, reads)],
        # The test builds a frame only when it sends one (an import plugin takes no input).
        "test_imports": "import pandas as pd\n\n"
        if input_format == "dataframe" and family != "import"
        else "",
        "test_data": "None" if family == "import" else _TEST_DATA[(kind, input_format)],
        "r_test_data": "NULL" if family == "import" else _TEST_DATA[(kind, input_format)],
        "test_command": f"cat {name}.R test_{name}.R | Rscript -"
        if kind == "r"
        else "python -m pytest",
    }


def _scaffold_parameters(points: Any) -> dict[str, Any]:
    """The ``parameters`` section of a scaffold: ``method`` and what its family reads."""
    first = points[0] if isinstance(points, list) and points else None
    family = FAMILIES.get(first, "") if isinstance(first, str) else ""
    return {"method": METHOD_PARAMETER, **FAMILY_PARAMETERS.get(family, {})}


def create_project(root_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Create ``root_dir/<name>/`` with the main file, manifest, README, .gitignore and a test.

    Raises ``InvalidRequest`` for a bad request (every problem listed) and ``Conflict`` when the
    folder exists. The manifest is validated before anything is written.
    """
    if not isinstance(request, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    unknown = set(request) - set(CREATE_DEFAULTS) - {
        "name", "config", "parameters", "changes_row_count"
    }
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    spec = {**CREATE_DEFAULTS, **request}
    language = str(spec.get("language", "")).lower()
    suffix = ".R" if language == "r" else ".py"
    name = spec.get("name")
    manifest = {
        "name": name,
        "version": spec["version"],
        "author": spec["author"],
        "author_email": spec["author_email"],
        "description": spec["description"],
        "language": language,
        "entry_point": f"{name}{suffix}",
        "category": spec["category"],
        "tags": spec["tags"],
        "extension_points": spec["extension_points"],
        "dependencies": spec["dependencies"],
        "permissions": spec["permissions"],
        "config": spec.get("config", {}),
        "parameters": spec.get("parameters", _scaffold_parameters(spec["extension_points"])),
        "min_platform_version": "1.0.0",
        "input_format": spec["input_format"],
    }
    if "changes_row_count" in request:
        manifest["changes_row_count"] = request["changes_row_count"]
    try:
        validate_manifest(manifest)
    except PluginError as e:
        raise InvalidRequest(e.message, **e.details) from e

    assert isinstance(name, str)  # validate_manifest refused anything else
    target = root_dir / name
    if target.exists():
        raise Conflict(f"A folder named {name!r} already exists in {root_dir}.")
    kind = "r" if language == "r" else "python"
    values = _values(manifest, kind)
    values["process_data"] = _render(f"{kind}/{values['family']}{suffix}.tmpl", **values)
    contents = {
        manifest["entry_point"]: _render(f"{kind}_plugin{suffix}.tmpl", **values),
        f"test_{name}{suffix}": _render(f"{kind}_test{suffix}.tmpl", **values),
        "manifest.json": json.dumps(manifest, indent=2) + "\n",
        "README.md": _render("README.md.tmpl", **values),
        ".gitignore": _render("gitignore.tmpl"),
    }
    # Write into a sibling temp folder, then rename: a failure leaves no half project.
    root_dir.mkdir(parents=True, exist_ok=True)
    tmp = root_dir / f".{name}.creating"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for filename, text in contents.items():
            (tmp / filename).write_text(text, encoding="utf-8")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "name": name,
        "path": str(target),
        "files": sorted(contents),
        "manifest": manifest,
    }


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``omniplug new`` and ``%omniplug new``: one scaffold, two doors."""
    parser.add_argument("name")
    parser.add_argument("--language", default="python", choices=["python", "r"])
    parser.add_argument("--dir", default=".", help="where to create the project folder")
    parser.add_argument("--author")
    parser.add_argument("--description")
    parser.add_argument("--category")
    parser.add_argument("--extension-point", action="append", help="repeatable")
    parser.add_argument("--tag", action="append", help="repeatable")
    parser.add_argument("--input-format", choices=INPUT_FORMATS)


def project_request(args: argparse.Namespace) -> dict[str, Any]:
    """The ``create_project`` request of parsed ``add_project_arguments`` options."""
    request: dict[str, Any] = {"name": args.name, "language": args.language}
    for field in ("author", "description", "category", "input_format"):
        if getattr(args, field):
            request[field] = getattr(args, field)
    if args.extension_point:
        request["extension_points"] = args.extension_point
    if args.tag:
        request["tags"] = args.tag
    return request
