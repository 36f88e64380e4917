"""A plugin holding ``file_system`` fills its ``/data`` with entries: the post-run check keeps its
deadline and names the real cause (issue 13, items 1 and 8).

``/data`` is a Docker volume, checked after each run rather than capped (overlay2 volumes take no
quota; bytes over ``max_volume_bytes`` are emptied, see ``tests/sandbox/test_lifecycle.py``). Its
measurement checked the clock only between folders, so one folder of many entries (or very many
folders: 1.27M made a 60 s run answer after 169.5 s) was listed and measured whatever the
deadline, and the host's own wait ran out first with a warning naming the container. Kept small
here (tens of thousands of entries, a 0.1 s deadline): removing a huge volume holds Docker's
volume lock for everyone on the engine.
"""

from __future__ import annotations

import re

import pytest

from tests.sandbox.conftest import PluginFactory, ServiceFactory

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

FILLER = """
import os
import time

class Filler:
    def execute(self, input_data):
        p = input_data["parameters"]
        began = time.monotonic()
        folder = "/data/" + p["where"]
        os.makedirs(folder, exist_ok=True)
        for i in range(p["count"]):
            if p["kind"] == "folders":
                os.mkdir(f"{folder}/d{i}")
            else:
                open(f"{folder}/f{i}", "w").close()
        return {"data": None, "metadata": {"seconds": time.monotonic() - began}}
"""
#: Entries that take several times the deadline to measure, and a few seconds to make.
COUNTS = {"files": 60_000, "folders": 30_000}
DEADLINE = 0.1
#: Clean-up, measurement and the answer after the plugin returned (a cold container's start
#: too): seconds, not the minutes an unbounded measurement takes.
AFTER_THE_PLUGIN = 15.0
CAUSE = re.compile(
    r"/data could not be measured: measuring /data took longer than its 0\.1 s deadline "
    r"\(sandbox_volume_check_seconds\): it holds at least (\d+) files and folders "
    r"\((\d+) bytes counted by then\)"
)


@pytest.mark.parametrize("kind", sorted(COUNTS))
def test_filling_data_with_entries_is_answered_on_time_naming_the_cause(
    service_with: ServiceFactory, make_plugin: PluginFactory, kind: str
) -> None:
    service = service_with(volume_check_seconds=DEADLINE)
    target = make_plugin(FILLER, permissions=("file_system",))
    try:
        for where, count in (("fill", COUNTS[kind]), ("one", 1)):
            answer = service.run(target, {
                "extension_point": "analysis",
                "parameters": {"kind": kind, "count": count, "where": where},
            })  # fmt: skip
            assert answer["status"] == "succeeded", answer["errors"]
            (warning,) = answer["warnings"]
            found = CAUSE.fullmatch(warning)
            assert found is not None, warning
            assert 0 < int(found[1]) < COUNTS[kind] + 3  # counted until the deadline, not more
            after = answer["duration_ms"] / 1000 - answer["metadata"]["seconds"]
            assert after < AFTER_THE_PLUGIN, (where, after)
    finally:
        service.forget_plugin(target.plugin_id)
