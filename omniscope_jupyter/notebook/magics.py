"""``%omniplug``: a plugin's whole life from a notebook, on the server's plugin system.

Every command goes through one ``PluginBackend`` (``client.py``): the Jupyter server's REST API
when the kernel has a server (the server then runs the containers and keeps the history; the
kernel needs no Docker socket), else the plugin system in this kernel. Which one is used is
printed once. ``%config OmniplugMagics.server_url = "http://host:8888/base/"`` (and ``.token``)
points it at a server explicitly; ``.backend = "local"`` keeps everything in the kernel.

A run shows its progress while it runs (status, elapsed time, the lines the plugin prints, the
fraction it reports) and ends with a summary whose output metadata holds the result's
provenance; interrupting the kernel cancels the run. A user mistake is one ``UsageError`` line.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display
from traitlets import Bool, Enum, Unicode, observe

from .. import archive
from ..core.system import PluginSystem
from ..errors import PluginError
from ..manifest import read_manifest
from ..scan.cli import format_report
from ..sdk import add_project_arguments, project_request
from ..values import ExecutionStatus
from .client import (
    METADATA_KEY,
    PluginBackend,
    PluginResult,
    RunHandle,
    as_backend,
    connect,
    default_backend,
)
from .forms import parse_mapping
from .history import describe, differences, find_execution, rerun, rerun_input
from .progress import RunState, follow
from .render import ExportedFile, rendered

#: ``name`` or ``name==version``: a marketplace plugin to install.
_CATALOG_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_]{1,63})(?:==(?P<version>\S+))?$")
#: Commands whose first argument is an installed plugin (for tab completion).
_PLUGIN_COMMANDS = frozenset(
    {"info", "enable", "disable", "run", "executions", "update", "rollback", "uninstall", "form"}
)
#: The subcommands, in the order ``build_parser`` adds them.
COMMANDS = [
    "list", "search", "info", "enable", "disable", "uninstall", "install", "update", "rollback",
    "run", "executions", "show", "rerun", "new", "scan", "pack", "marketplace", "form",
]  # fmt: skip
_SUMMARY_COLUMNS = ["name", "version", "language", "enabled", "category", "description"]
_RUN_COLUMNS = ["execution_id", "version", "status", "started_at", "duration_ms", "parameters"]


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one clean ``UsageError`` line, never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%omniplug: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message)
        raise UsageError("%omniplug: see %omniplug --help")


class Shown(dict[str, Any]):
    """A dict answer that displays as readable text (a scan report, one execution)."""

    def __init__(self, data: dict[str, Any], text: str) -> None:
        super().__init__(data)
        self.text = text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:2000]


def _value(text: str) -> Any:
    """``key=value`` values: JSON when they parse (numbers, lists, true), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str] | None, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"%omniplug: {what} must look like key=value, not {item!r}")
        out[key] = _value(value)
    return out


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o", "--out", help="store the result in this variable (an exported file: write it here)"
    )
    p.add_argument("-t", "--timeout", type=float, help="seconds (at most the server's limit)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not display the result")


def build_parser() -> _Parser:
    parser = _Parser(prog="%omniplug", add_help=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="installed plugins")
    p = sub.add_parser("search", help="search the marketplace")
    p.add_argument("query", nargs="*")
    for name, text in (
        ("info", "a plugin's details"),
        ("enable", "enable a plugin"),
        ("disable", "disable a plugin"),
        ("uninstall", "remove a plugin and all its versions"),
    ):
        sub.add_parser(name, help=text).add_argument("plugin")
    p = sub.add_parser("install", help="install a folder, a .tar.gz, or name[==version]")
    p.add_argument("source", help="a plugin folder, a .tar.gz, or a marketplace name[==version]")
    p.add_argument("--enable", action="store_true", help="enable it after installing")
    p.add_argument("--force", action="store_true", help="install past a refusing scan")
    p.add_argument(
        "--dev", action="store_true", help="a development version, replaced in place next time"
    )
    once = p.add_mutually_exclusive_group()
    once.add_argument(
        "--if-missing", action="store_true", help="do nothing when this version is installed"
    )
    once.add_argument(
        "--upgrade", action="store_true", help="install and activate it when it is newer"
    )
    p = sub.add_parser("update", help="switch to a newer version (fetched when only published)")
    p.add_argument("plugin")
    p.add_argument("version", nargs="?")
    p = sub.add_parser("rollback", help="switch back to an older version, with a reason")
    p.add_argument("plugin")
    p.add_argument("version", nargs="?")
    p.add_argument("-r", "--reason", required=True, help="why (recorded in the history)")
    p = sub.add_parser("run", help="run a plugin on a DataFrame variable")
    p.add_argument("plugin")
    p.add_argument("frame", help="name of a DataFrame in the notebook (or - for none)")
    p.add_argument("-p", "--param", action="append", help="parameter key=value (repeatable)")
    p.add_argument("-c", "--config", action="append", help="config key=value (repeatable)")
    p.add_argument("-e", "--extension-point", help="default: the plugin's first one")
    _run_options(p)
    p = sub.add_parser("executions", help="a plugin's run history, newest first")
    p.add_argument("plugin")
    p.add_argument("-n", "--limit", type=int, default=20)
    sub.add_parser("show", help="one execution, with its logs").add_argument("execution")
    p = sub.add_parser("rerun", help="run an execution again: same version and parameters")
    p.add_argument("execution", help="an execution id (its first 8 characters do)")
    p.add_argument("frame", nargs="?", help="default: the notebook's frame matching its input")
    _run_options(p)
    add_project_arguments(sub.add_parser("new", help="scaffold a plugin project (SDK)"))
    sub.add_parser("scan", help="security-scan a folder or .tar.gz").add_argument("path")
    p = sub.add_parser("pack", help="pack a plugin folder as .tar.gz (as tar -czf would)")
    p.add_argument("folder")
    p.add_argument("-o", "--output", help="default: <folder name>-<version>.tar.gz beside it")
    sub.add_parser("marketplace", help="the marketplace panel")
    p = sub.add_parser("form", help="a form to run a plugin, from its config schema")
    p.add_argument("plugin")
    p.add_argument("frame", nargs="?")
    return parser


@magics_class
class OmniplugMagics(Magics):
    """The ``%omniplug`` line magic (and ``%%omniplug run ...`` with parameters as the cell)."""

    server_url = Unicode(
        "",
        help="URL of the Jupyter server whose plugin system to use, with its base_url "
        "(default: the server this kernel belongs to, found on its own).",
    ).tag(config=True)
    token = Unicode("", help="Token of server_url's server.").tag(config=True)
    backend = Enum(
        ["auto", "server", "local"],
        "auto",
        help="auto: the server when there is one, else this kernel; server: only a server; "
        "local: this kernel (it then needs the Docker socket).",
    ).tag(config=True)
    live = Enum(
        ["auto", "display", "print"],
        "auto",
        help="How a run shows its progress: an updating display (notebooks), printed lines "
        "(terminals), or auto: by whether this shell has a kernel.",
    ).tag(config=True)
    show_logs = Bool(True, help="Print a run's logs and warnings when it ends.").tag(config=True)

    def __init__(
        self, shell: Any, system: PluginSystem | None = None, client: PluginBackend | None = None
    ) -> None:
        super().__init__(shell)
        self._client: PluginBackend | None = client or (as_backend(system) if system else None)
        self.parser = build_parser()

    @observe("server_url", "token", "backend")
    def _reconnect(self, change: Any) -> None:
        self._client = None

    @property
    def namespace(self) -> dict[str, Any]:
        """The notebook's variables (the shell always exists once the magic is registered)."""
        assert self.shell is not None
        return self.shell.user_ns

    @property
    def client(self) -> PluginBackend:
        """The backend, chosen on first use; says once which one it is."""
        if self._client is None:
            if not self.server_url and self.backend == "auto":
                self._client = default_backend()  # the one RunPanel and the panel use too
                return self._client
            try:
                self._client = connect(self.server_url, self.token, self.backend)
            except PluginError as e:
                raise UsageError(f"%omniplug: {_one_line(e.message)}") from None
            print(f"omniplug: {self._client.description}")
        return self._client

    @line_cell_magic
    def omniplug(self, line: str, cell: str | None = None) -> Any:
        """%omniplug list | search Q | info P | install SRC | enable P | disable P | update P [V] |
        rollback P [V] -r WHY | uninstall P | run P DF [-p k=v] [-o VAR] | executions P |
        show ID | rerun ID [DF] | new NAME | scan PATH | pack DIR | marketplace | form P [DF]"""
        try:
            words = shlex.split(line)
        except ValueError as e:
            raise UsageError(f"%omniplug: {e}") from None
        args = self.parser.parse_args(words)
        if cell is not None and args.command != "run":
            raise UsageError("%%omniplug: only `run` takes a cell (its parameters)")
        try:
            return getattr(self, f"_{args.command}")(args, cell)
        except PluginError as e:
            raise UsageError(f"%omniplug {args.command}: {_one_line(e.message)}") from None

    # -- tab completion ---------------------------------------------------------------------

    def complete(self, event: Any) -> list[str]:
        """Completions of ``%omniplug`` lines: commands, plugin names, DataFrame variables."""
        before = str(event.text_until_cursor).split(None, 1)
        words = before[1].split() if len(before) > 1 else []
        if event.symbol == "" or not words:
            words.append("")
        position = len(words) - 1
        if position == 0:
            return COMMANDS
        command = words[0]
        if position == 1 and command in _PLUGIN_COMMANDS:
            try:
                return [p["name"] for p in self.client.list_plugins()]
            except PluginError:
                return []
        if position == 2 and command in ("run", "form", "rerun"):
            return sorted(
                name
                for name, value in self.namespace.items()
                if isinstance(value, pd.DataFrame) and not name.startswith("_")
            )
        return []

    # -- lifecycle --------------------------------------------------------------------------

    def _list(self, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
        rows = self.client.list_plugins()
        return pd.DataFrame([{c: r.get(c) for c in _SUMMARY_COLUMNS} for r in rows], columns=_SUMMARY_COLUMNS)

    def _search(self, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
        hits = self.client.search(" ".join(args.query))
        columns = ["name", "latest_version", "description", "rating", "downloads", "installed"]
        rows = [
            {**{c: h.get(c) for c in columns}, "rating": (h.get("rating") or {}).get("average")}
            for h in hits
        ]
        return pd.DataFrame(rows, columns=columns)

    def _info(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.client.details(args.plugin)

    def _install(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        source = Path(args.source).expanduser()
        if source.exists():
            return self.client.install(
                source,
                enable=args.enable,
                force=args.force,
                dev=args.dev,
                if_missing=args.if_missing,
                upgrade=args.upgrade,
            )
        ref = _CATALOG_REF.match(args.source)
        if ref is None:
            raise UsageError(
                f"%omniplug install: {args.source!r} is neither a folder or .tar.gz here nor a "
                "marketplace name[==version]"
            )
        result = self.client.install_from_marketplace(ref["name"], ref["version"])
        if args.enable and not result.get("enabled"):
            self.client.set_enabled(ref["name"], True)
            result["enabled"] = True
        return result

    def _enable(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.client.set_enabled(args.plugin, True)

    def _disable(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.client.set_enabled(args.plugin, False)

    def _update(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.client.update(args.plugin, args.version)

    def _rollback(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.client.rollback(args.plugin, args.version, args.reason)

    def _uninstall(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.client.uninstall(args.plugin)

    def _new(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        # The scaffold is files only: made here, beside the notebook, on either backend.
        return PluginSystem.create_project(Path(args.dir).expanduser(), project_request(args))

    def _scan(self, args: argparse.Namespace, cell: str | None) -> Shown:
        result = self.client.scan(Path(args.path).expanduser())
        return Shown(result, f"{result['name']} {result['version']}\n{format_report(result['report'])}")

    def _pack(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        folder = Path(args.folder).expanduser()
        manifest = read_manifest(folder)
        default = folder.resolve().parent / f"{manifest.name}-{manifest.version}.tar.gz"
        out = Path(args.output).expanduser() if args.output else default
        archive.pack(folder, out)
        return {"name": manifest.name, "version": manifest.version, "archive": str(out)}

    def _marketplace(self, args: argparse.Namespace, cell: str | None) -> None:
        from .widgets import MarketplacePanel

        display(MarketplacePanel(self.client, namespace=self.namespace))

    def _form(self, args: argparse.Namespace, cell: str | None) -> None:
        from .runpanel import RunPanel

        frame = self._frame(args.frame) if args.frame else None
        display(RunPanel(args.plugin, frame, backend=self.client, namespace=self.namespace))

    # -- runs -------------------------------------------------------------------------------

    def _frame(self, name: str) -> pd.DataFrame | None:
        if name == "-":
            return None
        frame = self.namespace.get(name)
        if not isinstance(frame, pd.DataFrame):
            raise UsageError(f"%omniplug: {name!r} is not a DataFrame in this notebook")
        return frame

    def _run(self, args: argparse.Namespace, cell: str | None) -> PluginResult | None:
        frame = self._frame(args.frame)
        parameters = {
            **_pairs(args.param, "a parameter"),
            **parse_mapping(cell or "", "the cell's parameters"),
        }
        handle = self.client.start(
            args.plugin,
            frame,
            parameters=parameters,
            config=_pairs(args.config, "a config value") or None,
            extension_point=args.extension_point,
            timeout=args.timeout,
        )
        return self._finish(self._follow(handle), args)

    def _executions(self, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
        runs = self.client.executions(args.plugin, page_size=max(1, min(args.limit, 200)))
        return pd.DataFrame(runs["executions"], columns=_RUN_COLUMNS)

    def _show(self, args: argparse.Namespace, cell: str | None) -> Shown:
        record = find_execution(self.client, args.execution)
        return Shown(record, describe(record))

    def _rerun(self, args: argparse.Namespace, cell: str | None) -> PluginResult | None:
        record = find_execution(self.client, args.execution)
        name, frame = rerun_input(self.namespace, record, args.frame)
        if name:
            print(f"omniplug: rerunning {record['execution_id'][:8]} on {name}")
        result = self._follow(rerun(self.client, record, frame, timeout=args.timeout))
        changed = differences(record.get("provenance") or {}, result.provenance)
        if changed:
            print(f"warning: unlike the original run, this one's {', '.join(changed)} differ")
        return self._finish(result, args)

    def _follow(self, handle: RunHandle) -> PluginResult:
        """Show the run while it runs; end with a summary holding its provenance (metadata)."""
        live = self.live
        if live == "auto":
            live = "display" if getattr(self.shell, "kernel", None) is not None else "print"
        states: list[RunState] = []  # follow shows one state object, changing
        shown: list[Any] = []

        def show(state: RunState) -> None:
            states[:] = [state]
            if live == "print":
                for text in state.new_lines():
                    print(text)
            elif not shown:
                shown.append(display(state, display_id=True))
            else:
                shown[0].update(state)

        result = follow(handle, show)
        if shown:
            shown[0].update(states[0], metadata=result.metadata)
        else:
            display(states[0], metadata=result.metadata)
        return result

    def _finish(self, result: PluginResult, args: argparse.Namespace) -> PluginResult | None:
        """Report the logs, refuse a failed run (one line), store the result, return it."""
        answer = result.answer
        if self.show_logs:
            for text in answer.get("logs", []):
                print(text)
            for warning in answer.get("warnings", []):
                print(f"warning: {warning}")
        if result.status != ExecutionStatus.SUCCEEDED:
            errors = "; ".join(str(e) for e in answer.get("errors", []))
            raise UsageError(
                _one_line(f"%omniplug {args.command}: {result.plugin_id} {result.status}: {errors}")
            )
        if isinstance(result.data, pd.DataFrame):
            result.data.attrs[METADATA_KEY] = result.metadata[METADATA_KEY]
        shown = rendered(str(answer.get("kind", "")), result.data)
        if isinstance(shown, ExportedFile) and args.out:  # -o is then where to write the file
            print(f"wrote {len(shown.content)} bytes to {shown.save(args.out)}")
        elif args.out:
            self.namespace[args.out] = shown
        return None if args.quiet or args.out else result


def load(ipython: Any, client: PluginBackend | None = None) -> OmniplugMagics:
    """Register ``%omniplug`` with ``%config`` support and its tab completion.

    ``client`` fixes the backend (tests); by default it is chosen on first use.
    """
    magics = OmniplugMagics(ipython, client=client)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    for key in ("%omniplug", "%%omniplug"):
        ipython.set_hook("complete_command", lambda _shell, event: magics.complete(event), str_key=key)
    return magics


__all__ = ["OmniplugMagics", "load"]
