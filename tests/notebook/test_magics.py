"""%omniplug in a real IPython shell: the whole lifecycle, one-line mistakes, completion, runs.

The shell's client is the local backend on a temporary store (the same calls go to the server
in ``test_client.py``); runs go to the real sandbox.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from omniscope_jupyter import archive
from omniscope_jupyter.core.system import PluginSystem
from omniscope_jupyter.notebook.client import (
    METADATA_KEY,
    LocalBackend,
    PluginResult,
    ServerBackend,
)

from .conftest import CHATTY, CHATTY_MANIFEST, magics_of, write_plugin


def omniplug(ip: Any, line: str, cell: str | None = None) -> Any:
    if cell is None:
        return ip.run_line_magic("omniplug", line)
    return ip.run_cell_magic("omniplug", line, cell)


def completions(ip: Any, line: str) -> list[str]:
    """What IPython's completer offers at the end of ``line`` (as a front-end asks for it)."""
    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(line, len(line))]


def test_load_ext_registers_the_magic_its_config_and_completion() -> None:
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "omniscope_jupyter")
        assert "omniplug" in ip.magics_manager.magics["line"]
        assert "omniplug" in ip.magics_manager.magics["cell"]
        # %config reaches it: the backend becomes that server, chosen once, said once.
        ip.run_line_magic("config", 'OmniplugMagics.server_url = "http://127.0.0.1:9/base/"')
        ip.run_line_magic("config", 'OmniplugMagics.token = "secret"')
        magics = magics_of(ip)
        with capture_output() as out:
            backend = magics.client
            assert magics.client is backend
        assert isinstance(backend, ServerBackend) and backend.api == "http://127.0.0.1:9/base/api/plugins"
        assert backend.session.headers["Authorization"] == "token secret"
        assert out.stdout.count("omniplug: plugins run through the Jupyter server") == 1
        assert {"run", "rerun"} <= set(completions(ip, "%omniplug r"))
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("frobnicate", "invalid choice"),
        ("info ghost", "No plugin named 'ghost'"),
        ("run ghost -", "No plugin named 'ghost'"),
        ("run chatty nothing_here", "is not a DataFrame"),
        ("run chatty df -p oops", "key=value"),
        ("rollback chatty 1.0.0", "required: -r/--reason"),
        ("install no/such/thing.tar.gz", "neither a folder or .tar.gz here nor a marketplace"),
        ("install ghost==1.0.0", "ghost"),
        ("show 12", "at least the first 4 characters"),
        ("show abcdef12", "no execution 'abcdef12'"),
        ('run chatty df -p "unclosed', "No closing quotation"),
    ],
)
def test_mistakes_are_one_usage_error_line(shell: Any, line: str, fragment: str) -> None:
    shell.user_ns["df"] = pd.DataFrame({"a": [1]})
    with pytest.raises(UsageError) as e:
        omniplug(shell, line)
    assert fragment in str(e.value) and "\n" not in str(e.value).strip()


def test_cell_parameters_are_json_or_yaml_and_must_be_a_mapping(shell: Any, chatty: Path) -> None:
    omniplug(shell, f"install {chatty} --enable")
    shell.user_ns["df"] = pd.DataFrame({"a": [1.0]})
    for cell, fragment in (("- a\n- b", "must be a mapping"), ("a: [1", "neither JSON nor YAML")):
        with pytest.raises(UsageError, match=fragment):
            omniplug(shell, "run chatty df", cell)
    with pytest.raises(UsageError, match="only `run` takes a cell"):
        omniplug(shell, "list", "{}")
    # A bad config value is refused before any container starts.
    with pytest.raises(UsageError, match="'factor' must be of type number"):
        omniplug(shell, "run chatty df -c factor=big")


def test_the_lifecycle_from_the_notebook(shell: Any, core: PluginSystem, tmp_path: Path) -> None:
    v1 = write_plugin(tmp_path / "v1" / "chatty", CHATTY_MANIFEST, CHATTY)
    v2 = write_plugin(tmp_path / "v2" / "chatty", {**CHATTY_MANIFEST, "version": "1.1.0"}, CHATTY)
    result = omniplug(shell, f"install {v1}")
    assert (result["name"], result["enabled"]) == ("chatty", False)
    listed = omniplug(shell, "list")
    assert listed["name"].tolist() == ["chatty"] and listed["enabled"].tolist() == [False]
    omniplug(shell, "enable chatty")
    assert omniplug(shell, "info chatty")["enabled"] is True
    omniplug(shell, "disable chatty")
    assert core.details("chatty")["enabled"] is False
    omniplug(shell, f"install {v2}")
    assert omniplug(shell, "update chatty")["active_version"] == "1.1.0"
    switched = omniplug(shell, 'rollback chatty 1.0.0 -r "1.1.0 scales twice"')
    assert switched["active_version"] == "1.0.0"
    assert core.history("chatty")[-1]["reason"] == "1.1.0 scales twice"
    assert core.history("chatty")[-1]["user"] == "analyst"
    assert omniplug(shell, "uninstall chatty")["plugin_id"] == "chatty"
    assert omniplug(shell, "list").empty


def test_sdk_scaffold_scan_and_marketplace_install(shell: Any, core: PluginSystem, tmp_path: Path) -> None:
    made = omniplug(shell, f"new my_tool --dir {tmp_path} --description 'Column means'")
    project = Path(made["path"])
    assert project == tmp_path / "my_tool" and (project / "my_tool.py").is_file()
    report = omniplug(shell, f"scan {project}")
    assert report["passed"] is True and report["name"] == "my_tool"
    assert "scan passed" in report.text  # displayed as the terminal report, not a dict
    (project / "my_tool.py").write_text((project / "my_tool.py").read_text() + "\nimport os\nos.system('ls')\n")
    assert omniplug(shell, f"scan {project}")["passed"] is False
    # Publish a plugin, then install it by name (and version) from the marketplace.
    chatty = write_plugin(tmp_path / "chatty", CHATTY_MANIFEST, CHATTY)
    packed = tmp_path / "chatty.tar.gz"
    archive.pack(chatty, packed)
    core.publish(packed)
    hits = omniplug(shell, "search scales")
    assert hits["name"].tolist() == ["chatty"] and hits["installed"].tolist() == [False]
    installed = omniplug(shell, "install chatty==1.0.0 --enable")
    assert (installed["version"], installed["enabled"]) == ("1.0.0", True)


def test_tab_completion_offers_commands_plugins_and_frames(shell: Any, chatty: Path) -> None:
    omniplug(shell, f"install {chatty}")
    shell.user_ns.update(df=pd.DataFrame({"a": [1]}), _hidden=pd.DataFrame(), n=3)
    magics = magics_of(shell)

    def complete(text: str) -> list[str]:
        return magics.complete(SimpleNamespace(text_until_cursor=text, symbol=text.split(" ")[-1]))

    assert "marketplace" in complete("%omniplug ")
    assert complete("%omniplug run ") == ["chatty"]
    assert complete("%omniplug run chatty ") == ["df"]
    assert complete("%%omniplug run chatty d") == ["df"]
    assert "chatty" in completions(shell, "%omniplug info ch")


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_run_shows_progress_and_stamps_its_output(shell: Any, core: PluginSystem, chatty: Path) -> None:
    omniplug(shell, f"install {chatty} --enable")
    shell.user_ns["df"] = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with capture_output() as out:
        assert omniplug(shell, "run chatty df -c factor=10 -o scaled") is None
    scaled = shell.user_ns["scaled"]
    assert scaled["a"].tolist() == [10.0, 20.0, 30.0]
    # The lines the plugin printed, then its logs; the summary output carries the provenance.
    assert out.stdout.splitlines()[:3] == ["starting on 3 rows", "done", "scaled"]
    stamp = out.outputs[-1].metadata[METADATA_KEY]
    assert stamp["status"] == "succeeded" and stamp["provenance"]["config"] == {"factor": 10}
    assert scaled.attrs[METADATA_KEY]["execution_id"] == stamp["execution_id"]
    # Parameters as a YAML cell; the returned result carries its stamp in its display too.
    result = omniplug(shell, "run chatty df", "sleep: 0\nnote: yaml")
    assert isinstance(result, PluginResult) and result.provenance["parameters"] == {"sleep": 0, "note": "yaml"}
    bundle, metadata = result._repr_mimebundle_()
    assert "<table" in bundle["text/html"] and metadata[METADATA_KEY]["execution_id"] == result.execution_id
    history = omniplug(shell, "executions chatty")
    assert history["status"].tolist() == ["succeeded", "succeeded"]
    shown = omniplug(shell, f"show {stamp['execution_id'][:8]}")
    assert shown["status"] == "succeeded" and "starting on 3 rows" in shown.text
    assert stamp["provenance"]["input"]["digest"] in shown.text


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_rerun_from_the_history(shell: Any, core: PluginSystem, tmp_path: Path) -> None:
    write_plugin(tmp_path / "v2", {**CHATTY_MANIFEST, "version": "1.1.0"}, CHATTY)
    omniplug(shell, f"install {write_plugin(tmp_path / 'v1', CHATTY_MANIFEST, CHATTY)} --enable")
    shell.user_ns["df"] = pd.DataFrame({"a": [1.0, 2.0]})
    assert omniplug(shell, "run chatty df -c factor=3 -q") is None
    run_id = core.executions_page("chatty")["executions"][0]["execution_id"]
    shell.user_ns.update(renamed=shell.user_ns.pop("df"), other=pd.DataFrame({"a": [5.0]}))
    # Without a frame: the notebook frame whose digest is the recorded input's (here renamed).
    with capture_output() as out:
        again = omniplug(shell, f"rerun {run_id[:8]}")
    assert "rerunning " + run_id[:8] + " on renamed" in out.stdout
    original = LocalBackend(core).execution("chatty", run_id)
    assert again.data["a"].tolist() == [3.0, 6.0] == [row[0] for row in original["data"]["data"]]
    same = {k: v for k, v in again.provenance.items() if k != "platform_version"}
    assert same == {k: v for k, v in original["provenance"].items() if k != "platform_version"}
    on_other = omniplug(shell, f"rerun {run_id[:8]} other")
    assert on_other.data["a"].tolist() == [15.0] and on_other.provenance["config"] == {"factor": 3}
    # A rerun never runs another version than the recorded one.
    omniplug(shell, f"install {tmp_path / 'v2'}")
    omniplug(shell, "update chatty")
    with pytest.raises(UsageError, match="ran chatty 1.0.0 but 1.1.0 is active"):
        omniplug(shell, f"rerun {run_id[:8]}")
