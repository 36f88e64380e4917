"""Webhook Notifier: posts a summary of the data it is given to a webhook (Slack, Teams,
Mattermost, or any service taking JSON).

The plugin takes its input as JSON (manifest ``"input_format": "json"``): ``data`` is exactly
what the caller sent — a list of rows, a list of records, a dict of columns or any JSON — and a
notebook's DataFrame arrives as a list of records. It summarises it (rows, columns, per numeric
column min/mean/max) and POSTs ``{"text": <one line>, "summary": {...}, "rows": [...]}`` to
``config.webhook_url`` (``text`` is what Slack-style webhooks show).

It needs the ``network`` permission (and nothing but ``read_data`` besides): the sandbox then
attaches the plugin to the ``omniscope-sandbox`` network, which the platform's firewall keeps
off the host and private ranges. An unreachable webhook or a non-2xx answer is reported in
``errors``, so the run ends ``failed`` with the reason.
"""

from __future__ import annotations

import http.client
import json
import math
from typing import Any
from urllib.parse import urlsplit

TEXT_CAP = 500


def summarise(data: Any) -> dict[str, Any]:
    """Rows, columns and numeric statistics of a table in any JSON layout; else its type."""
    columns: dict[str, list[Any]] = {}
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        columns = {str(k): v for k, v in data.items()}
        rows = max(len(v) for v in data.values())
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        for record in data:
            for key in record:
                columns.setdefault(str(key), [])
        for record in data:
            for key in columns:
                columns[key].append(record.get(key))
        rows = len(data)
    elif isinstance(data, list) and data and all(isinstance(r, list) for r in data):
        width = max(len(r) for r in data)
        columns = {str(i): [r[i] if i < len(r) else None for r in data] for i in range(width)}
        rows = len(data)
    else:
        return {"type": type(data).__name__, "rows": len(data) if isinstance(data, list) else None}
    stats = {}
    for name, values in columns.items():
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)]  # fmt: skip
        if numbers and len(numbers) == sum(v is not None for v in values):
            stats[name] = {"min": min(numbers), "mean": sum(numbers) / len(numbers), "max": max(numbers)}
    return {"type": "table", "rows": rows, "columns": list(columns), "numeric": stats}


class WebhookNotifier:
    """The plugin: ``execute`` posts the summary and reports the webhook's answer."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "webhook_notifier")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        config = {**self.config, **(input_data.get("config") or {})}
        parameters = input_data.get("parameters") or {}
        url = str(config.get("webhook_url") or "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("config webhook_url must be an http(s) URL, e.g. https://hooks.example.com/T0/B0")
        data = input_data.get("data")
        summary = summarise(data)
        title = str(parameters.get("message") or "OmniScope data summary")
        if summary["type"] == "table":
            line = f"{title}: {summary['rows']} row(s), columns {', '.join(summary['columns'])}"
        else:
            line = f"{title}: a {summary['type']} value"
        payload: dict[str, Any] = {"text": line[:TEXT_CAP], "summary": summary}
        sample = int(parameters.get("include_rows", 0))
        if sample > 0 and isinstance(data, list):
            payload["rows"] = data[:sample]
        body = json.dumps(payload, default=str).encode()
        metadata = {"plugin_id": self.plugin_id, "webhook_host": parts.hostname, "sent_bytes": len(body),
                    "summary": summary}  # fmt: skip
        try:
            status, answer = post_json(url, body, float(config.get("timeout", 10)))
        except (OSError, http.client.HTTPException) as exc:
            return {"data": None, "metadata": metadata, "logs": [],
                    "errors": [f"could not reach the webhook at {parts.hostname}: {exc}"]}  # fmt: skip
        metadata["status"] = status
        if not 200 <= status < 300:
            return {"data": None, "metadata": metadata,
                    "errors": [f"the webhook answered HTTP {status}: {answer[:200]}"]}  # fmt: skip
        return {
            "data": {"status": status, "answer": answer[:TEXT_CAP]},
            "metadata": metadata,
            "logs": [f"posted {len(body)} bytes to {parts.hostname}: HTTP {status}"],
            "warnings": [],
            "errors": [],
        }


def post_json(url: str, body: bytes, timeout: float) -> tuple[int, str]:
    """POST ``body`` as JSON to an http(s) ``url``; return the status and the answer's text."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                              "User-Agent": "omniscope-webhook-notifier"})  # fmt: skip
        response = connection.getresponse()
        return response.status, response.read(64 * 1024).decode("utf-8", errors="replace")
    except TimeoutError as exc:
        raise OSError(f"no answer within {timeout:g} s") from exc
    finally:
        connection.close()
