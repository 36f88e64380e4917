"""The extension points' contracts applied to runs: the input before, the result after.

``extension_points.py`` declares what each point takes and returns; this module holds a run to
it. Before the run (``plugin_input``, from ``jobs.build_request``) a request that cannot meet
the contract is a 400 (``InvalidRequest``): no table where the point needs one. After the run
(``check_outcome``, from the execution service, once per run) a result that breaks the contract
turns the run ``failed`` with one error naming the contract and what was expected. A report's
HTML is sanitised there, so every reader of the answer gets the safe text.

The input format is the plugin's choice (manifest ``input_format``): ``dataframe`` (default)
gives it a DataFrame; ``json`` gives it ``input_data`` exactly as the caller sent it, and a
DataFrame from a notebook or the CLI as a list of records.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd

from ..errors import InvalidRequest
from ..extension_points import BY_NAME, kind_of, media_type_of
from ..safe_html import sanitize_html
from .runner import RunOutcome, RunRequest
from .transfer import TransferError, as_frame, frame_from_input


def wants_json(manifest: dict[str, Any]) -> bool:
    """Whether the plugin takes its input as JSON (manifest ``"input_format": "json"``)."""
    return manifest.get("input_format") == "json"


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame`` as JSON records, the way a json-input plugin receives a caller's DataFrame.

    pandas' own writer does it: NaN/NaT become null, timestamps ISO 8601, labels strings.
    """
    text = frame.to_json(orient="records", date_format="iso", date_unit="us", default_handler=str)
    records: list[dict[str, Any]] = json.loads(text)
    return records


def plugin_input(
    manifest: dict[str, Any], frame: pd.DataFrame | pd.Series | None, input_data: Any
) -> Any:
    """What the plugin receives as ``data``: a DataFrame, the caller's JSON, or None.

    ``frame`` (a notebook's or the CLI's) wins over ``input_data``. Raises ``InvalidRequest``
    for input that cannot become a table when the plugin takes DataFrames.
    """
    try:
        data = None if frame is None else as_frame(frame)
        if wants_json(manifest):
            return frame_records(data) if isinstance(data, pd.DataFrame) else input_data
        if data is None and input_data is not None:
            data = frame_from_input(input_data)
    except TransferError as exc:
        raise InvalidRequest(str(exc)) from exc
    return data


def check_input(point_name: str, plugin_id: str, data: Any, withheld: bool) -> None:
    """Refuse (400) a run whose input cannot meet the point's contract.

    ``withheld``: the caller sent data but the plugin lacks ``read_data`` and will not see it.
    """
    point = BY_NAME.get(point_name)
    if point is None or not point.needs_input:
        return
    contract = f"the {point_name} contract needs a table as input"
    if withheld:
        raise InvalidRequest(
            f"{contract}, and plugin {plugin_id!r} lacks the read_data permission to see it"
        )
    if data is None:
        raise InvalidRequest(
            f"{contract}: send input_data (a dict of columns, a list of rows or records)"
        )
    if not isinstance(data, pd.DataFrame):
        try:
            frame_from_input(data)
        except TransferError as exc:
            raise InvalidRequest(f"{contract}: {exc}") from exc


def _rows(data: Any) -> int | None:
    """Row count of a run's input table (None when it is not one)."""
    if isinstance(data, pd.DataFrame):
        return len(data)
    if data is None:
        return None
    try:
        return len(frame_from_input(data))
    except TransferError:
        return None


def check_outcome(manifest: dict[str, Any], request: RunRequest, outcome: RunOutcome) -> RunOutcome:
    """``outcome`` held to its point's contract: unchanged, sanitised, or ``failed``.

    Only a succeeded run is checked (a failed one already says why). A report's HTML comes
    back sanitised, with a warning when that removed anything.
    """
    point = BY_NAME.get(request.extension_point)
    if outcome.status != "succeeded" or point is None:
        return outcome
    problems = point.result_problems(
        outcome.data,
        outcome.metadata,
        rows_in=_rows(request.data) if point.keeps_rows else None,
        changes_rows=manifest.get("changes_row_count") is True,
    )
    if problems:
        why = "; ".join(problems)
        if outcome.data is None and "write_data" not in request.permissions:
            why += " (the plugin lacks the write_data permission, so its data was dropped)"
        return replace(
            outcome,
            status="failed",
            data=None,
            errors=[f"the result breaks the {point.name} contract: {why}"],
        )
    data = outcome.data
    if kind_of(data) == "report" and data["media_type"] == "text/html":
        clean = sanitize_html(data["text"])
        if clean != data["text"]:
            outcome = replace(
                outcome,
                data={**data, "text": clean},
                warnings=[*outcome.warnings, "the report's HTML was sanitised (unsafe markup removed)"],
            )
    return outcome


def result_kind(data: Any) -> tuple[str, str | None]:
    """``(kind, media_type)`` of a result's data for the answer: none, frame, json or a document."""
    if data is None:
        return "none", None
    return kind_of(data), media_type_of(data)
