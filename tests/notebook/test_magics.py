"""%omniplug in a real IPython shell: mistakes are one UsageError line; runs go to the sandbox."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError

from omniscope_jupyter.core.system import PluginSystem

from ..helpers import REPO

EXAMPLES = REPO / "plugins" / "examples"


def test_load_ext_registers_the_magic() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "omniscope_jupyter")
        assert "omniplug" in ip.magics_manager.magics["line"]
        assert "omniplug" in ip.magics_manager.magics["cell"]
    finally:
        InteractiveShell.clear_instance()


def test_install_list_info_enable_disable(shell: Any, core: PluginSystem) -> None:
    result = shell.run_line_magic("omniplug", f"install {EXAMPLES / 'data_normalizer'}")
    assert (result["name"], result["enabled"]) == ("data_normalizer", False)
    listed = shell.run_line_magic("omniplug", "list")
    assert isinstance(listed, pd.DataFrame) and listed["name"].tolist() == ["data_normalizer"]
    shell.run_line_magic("omniplug", "enable data_normalizer")
    assert shell.run_line_magic("omniplug", "info data_normalizer")["enabled"] is True
    shell.run_line_magic("omniplug", "disable data_normalizer")
    assert core.details("data_normalizer")["enabled"] is False
    assert core.history("data_normalizer")[-1]["user"] == "analyst"


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("frobnicate", "invalid choice"),
        ("info ghost", "No plugin named 'ghost'"),
        ("run ghost -", "No plugin named 'ghost'"),
        ("run data_normalizer nothing_here", "is not a DataFrame"),
        ("run data_normalizer df -p oops", "key=value"),
    ],
)
def test_mistakes_are_one_usage_error_line(shell: Any, line: str, fragment: str) -> None:
    shell.user_ns["df"] = pd.DataFrame({"a": [1]})
    with pytest.raises(UsageError) as e:
        shell.run_line_magic("omniplug", line)
    assert fragment in str(e.value) and "\n" not in str(e.value).strip()


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_run_on_a_dataframe_and_store_the_result(shell: Any, core: PluginSystem) -> None:
    shell.run_line_magic("omniplug", f"install {EXAMPLES / 'data_normalizer'} --enable")
    shell.user_ns["df"] = pd.DataFrame({"a": [1.0, 4.0, 7.0], "tag": ["x", "y", "z"]})
    assert shell.run_line_magic("omniplug", "run data_normalizer df -p method=zscore -o out") is None
    out = shell.user_ns["out"]
    assert out["a"].tolist() == [-1.0, 0.0, 1.0] and out["tag"].tolist() == ["x", "y", "z"]
    shell.run_cell_magic("omniplug", "run data_normalizer df -o scaled", '{"method": "minmax"}')
    assert shell.user_ns["scaled"]["a"].tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(UsageError, match="failed"):
        shell.run_line_magic("omniplug", "run data_normalizer df -p method=cubic")
    history = shell.run_line_magic("omniplug", "executions data_normalizer")
    assert history["status"].tolist() == ["failed", "succeeded", "succeeded"]
