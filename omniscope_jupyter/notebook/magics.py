"""``%omniplug``: install, inspect and run plugins on DataFrames from a notebook.

The kernel opens the same store as the server (``config.open_system``), so what a notebook installs
shows up in JupyterLab's API at once, and runs go through the same hardened sandbox and are
recorded in the same execution history.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from ..config import open_system
from ..core.system import PluginSystem
from ..errors import PluginError


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one clean ``UsageError`` line, never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%omniplug: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message)
        raise UsageError("%omniplug: see %omniplug --help")


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


def build_parser() -> _Parser:
    parser = _Parser(prog="%omniplug", add_help=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="installed plugins")
    for name in ("info", "enable", "disable", "executions"):
        sub.add_parser(name).add_argument("plugin")
    p = sub.add_parser("install", help="install a .tar.gz or a folder")
    p.add_argument("package")
    p.add_argument("--enable", action="store_true")
    p = sub.add_parser("run", help="run a plugin on a DataFrame variable")
    p.add_argument("plugin")
    p.add_argument("frame", help="name of a DataFrame in the notebook (or - for none)")
    p.add_argument("-p", "--param", action="append", help="parameter key=value (repeatable)")
    p.add_argument("-c", "--config", action="append", help="config key=value (repeatable)")
    p.add_argument("-e", "--extension-point", help="default: the plugin's first one")
    p.add_argument("-o", "--out", help="store the result DataFrame in this variable")
    p.add_argument("-t", "--timeout", type=float)
    p.add_argument("-q", "--quiet", action="store_true", help="do not display the result")
    sub.add_parser("marketplace", help="show the marketplace panel")
    return parser


@magics_class
class OmniplugMagics(Magics):
    """The ``%omniplug`` line magic (and ``%%omniplug run ...`` with JSON parameters as the cell)."""

    def __init__(self, shell: Any, system: PluginSystem | None = None) -> None:
        super().__init__(shell)
        self._system = system
        self.parser = build_parser()

    @property
    def namespace(self) -> dict[str, Any]:
        """The notebook's variables (the shell always exists once the magic is registered)."""
        assert self.shell is not None
        return self.shell.user_ns

    @property
    def system(self) -> PluginSystem:
        """The plugin system, opened on first use; says once which store it is."""
        if self._system is None:
            self._system = open_system()
            print(f"omniplug: store {self._system.store}")
        return self._system

    @line_cell_magic
    def omniplug(self, line: str, cell: str | None = None) -> Any:
        """%omniplug list | info P | install PATH | enable P | disable P | executions P |
        run P DF [-p k=v]... [-o VAR] | marketplace"""
        args = self.parser.parse_args(shlex.split(line))
        try:
            return getattr(self, f"_{args.command}")(args, cell)
        except PluginError as e:
            raise UsageError(f"%omniplug {args.command}: {e.message}") from None

    # -- commands ---------------------------------------------------------------------------

    def _list(self, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
        rows = self.system.list_plugins()
        columns = ["name", "version", "language", "enabled", "category", "description"]
        return pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)

    def _info(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.system.details(args.plugin)

    def _install(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.system.install(args.package, enable=args.enable)

    def _enable(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.system.set_enabled(args.plugin, True)

    def _disable(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        return self.system.set_enabled(args.plugin, False)

    def _executions(self, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
        page = self.system.executions_page(args.plugin)
        return pd.DataFrame(page["executions"])

    def _run(self, args: argparse.Namespace, cell: str | None) -> Any:
        frame = None
        if args.frame != "-":
            frame = self.namespace.get(args.frame)
            if not isinstance(frame, pd.DataFrame):
                raise UsageError(f"%omniplug run: {args.frame!r} is not a DataFrame in this notebook")
        parameters = _pairs(args.param, "a parameter")
        if cell and cell.strip():
            try:
                extra = json.loads(cell)
            except json.JSONDecodeError as e:
                raise UsageError(f"%%omniplug run: the cell must be a JSON object: {e}") from None
            if not isinstance(extra, dict):
                raise UsageError("%%omniplug run: the cell must be a JSON object of parameters")
            parameters.update(extra)
        result = self.system.run_frame(
            args.plugin,
            frame,
            parameters=parameters,
            config=_pairs(args.config, "a config value") or None,
            extension_point=args.extension_point,
            timeout=args.timeout,
        )
        answer = result.answer
        if answer["status"] != "succeeded":
            errors = "; ".join(str(e) for e in answer.get("errors", []))[:2000]
            raise UsageError(f"%omniplug run: {args.plugin} {answer['status']}: {errors}")
        if args.out:
            self.namespace[args.out] = result.data
        for line in answer.get("logs", []):
            print(line)
        for warning in answer.get("warnings", []):
            print(f"warning: {warning}")
        if args.quiet or args.out:
            return None
        return result.data

    def _marketplace(self, args: argparse.Namespace, cell: str | None) -> None:
        from .widgets import MarketplacePanel

        display(MarketplacePanel(self.system, namespace=self.namespace))
