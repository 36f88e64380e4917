"""``omniplug``: the plugin system from a terminal, on the same core as the REST API.

It opens the store ``config.open_system`` finds (``--data-dir``/``--db-url``, else the store of
the server that launched this terminal, else ``c.OmniscopeApp.*`` in the Jupyter config files,
else the Jupyter data dir) and says which on stderr, so a plugin installed here is seen by a
running JupyterLab on that store at once. A user mistake prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import archive
from .config import OmniscopeConfig, load_config, open_system
from .core.system import PluginSystem
from .errors import PluginError
from .sdk import add_project_arguments, project_request
from .values import ExecutionStatus

USER_ERROR = 2


class UsageError(Exception):
    """A command-line mistake: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _progress(step: str, detail: str) -> None:
    print(f"  {step:<13} {detail}", file=sys.stderr, flush=True)


def _config(args: argparse.Namespace) -> OmniscopeConfig:
    """The settings alone (scan and sandbox commands need no store)."""
    config = OmniscopeConfig(config=load_config())
    if args.data_dir:
        config.data_dir = args.data_dir
    return config


def _system(args: argparse.Namespace) -> PluginSystem:
    system = open_system(args.data_dir, args.db_url, user=args.user)
    print(f"omniplug: store {system.store}", file=sys.stderr, flush=True)
    return system


def _print(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text(data))


# -- commands -----------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace) -> Any:
    result = PluginSystem.create_project(Path(args.dir), project_request(args))
    return result, lambda r: f"Created {r['path']} ({', '.join(r['files'])})"


def cmd_pack(args: argparse.Namespace) -> Any:
    folder = Path(args.folder)
    out = Path(args.output or f"{folder.resolve().name}.tar.gz")
    archive.pack(folder, out)
    return {"archive": str(out)}, lambda r: f"Packed {folder} into {r['archive']}"


#: How ``install``/``dev`` report the answer's ``action``.
INSTALL_ACTIONS = {
    "installed": "Installed",
    "replaced": "Replaced in place",
    "upgraded": "Upgraded to",
    "unchanged": "Already installed:",
}


def cmd_install(args: argparse.Namespace) -> Any:
    """``install`` and ``dev`` (a development version, replaced in place by the next ``dev``)."""
    path = Path(args.package)
    if not path.exists():
        raise UsageError(f"omniplug {args.command}: {path} does not exist")
    result = _system(args).install(
        path,
        force=args.force,
        enable=args.enable,
        dev=args.command == "dev",
        if_missing=getattr(args, "if_missing", False),
        upgrade=getattr(args, "upgrade", False),
        progress=_progress,
    )

    def text(r: dict[str, Any]) -> str:
        lines = [
            f"{INSTALL_ACTIONS.get(r['action'], r['action'])} {r['name']} {r['version']}"
            f"{' (development version)' if r['dev'] else ''} (active {r['active_version']}, "
            f"{'enabled' if r['enabled'] else 'disabled'}; scan "
            f"{'passed' if r['scan']['passed'] else 'FORCED'})"
        ]
        return "\n".join(lines + [f"warning: {w}" for w in r.get("warnings", [])])

    return result, text


def cmd_run(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"parameters": _json_arg(args.parameters, "--parameters")}
    if args.input:
        raw = sys.stdin.read() if args.input == "-" else Path(args.input).read_text("utf-8")
        body["input_data"] = _json_text(raw, "--input")
    if args.config:
        body["config"] = _json_arg(args.config, "--config")
    if args.extension_point:
        body["extension_point"] = args.extension_point
    if args.timeout:
        body["timeout"] = args.timeout
    answer = _system(args).run(args.plugin, body)
    args.exit_code = 0 if answer["status"] == ExecutionStatus.SUCCEEDED else 1

    def text(a: dict[str, Any]) -> str:
        lines = [f"{a['plugin_id']} {a['version']}: {a['status']} in {a.get('duration_ms') or 0:.0f} ms"]
        lines += [f"log: {x}" for x in a.get("logs", [])]
        lines += [f"warning: {x}" for x in a.get("warnings", [])]
        lines += [f"error: {x}" for x in a.get("errors", [])]
        lines.append(json.dumps(a.get("data"), indent=2, default=str))
        return "\n".join(lines)

    return answer, text


def _json_text(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"omniplug: {what} is not valid JSON: {e}") from None


def _json_arg(text: str | None, what: str) -> dict[str, Any]:
    value = _json_text(text, what) if text else {}
    if not isinstance(value, dict):
        raise UsageError(f"omniplug: {what} must be a JSON object")
    return value


def cmd_sandbox(args: argparse.Namespace) -> Any:
    from .sandbox.container import docker_client
    from .sandbox.images import ensure_images, ensure_resolver_image, image_status

    settings = _config(args).sandbox_settings()
    client = docker_client()
    if args.action == "build":

        def say(line: str) -> None:
            print(f"  {line}", file=sys.stderr, flush=True)

        # The runner images, and the one the dependency stage runs pip in.
        tags = {**ensure_images(client, say, settings)}
        tags["resolver"] = ensure_resolver_image(client, say, settings)
        return tags, lambda t: "\n".join(f"{lang}: {tag}" for lang, tag in sorted(t.items()))
    status = image_status(client, settings)
    return status, lambda st: json.dumps(st, indent=2, default=str)


def cmd_list(args: argparse.Namespace) -> Any:
    enabled = {"yes": True, "no": False}.get(args.enabled or "")
    plugins = _system(args).list_plugins(
        enabled=enabled,
        category=args.category,
        language=args.language,
        extension_point=args.extension_point,
    )

    def text(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "No plugins installed."
        lines = [f"{'NAME':<28} {'VERSION':<12} {'LANG':<7} {'ENABLED':<8} CATEGORY"]
        lines += [
            f"{p['name']:<28} {p['version']:<12} {p['language']:<7} "
            f"{'yes' if p['enabled'] else 'no':<8} {p['category']}"
            for p in rows
        ]
        return "\n".join(lines)

    return plugins, text


def cmd_info(args: argparse.Namespace) -> Any:
    return _system(args).details(args.plugin), lambda d: json.dumps(d, indent=2, default=str)


def cmd_enable(args: argparse.Namespace) -> Any:
    r = _system(args).set_enabled(args.plugin, args.command == "enable", user=args.user)
    return r, lambda r: f"{r['plugin_id']} {'enabled' if r['enabled'] else 'disabled'}"


def cmd_update(args: argparse.Namespace) -> Any:
    r = _system(args).update(args.plugin, args.target_version, user=args.user)
    return r, lambda r: f"{r['plugin_id']}: {r['previous_version']} -> {r['active_version']}"


def cmd_rollback(args: argparse.Namespace) -> Any:
    r = _system(args).rollback(args.plugin, args.target_version, args.reason, user=args.user)
    return r, lambda r: f"{r['plugin_id']}: {r['previous_version']} -> {r['active_version']}"


def cmd_uninstall(args: argparse.Namespace) -> Any:
    r = _system(args).uninstall(args.plugin, user=args.user)
    return r, lambda r: f"Uninstalled {r['plugin_id']} ({', '.join(r['versions'])})"


def cmd_history(args: argparse.Namespace) -> Any:
    rows = _system(args).history(args.plugin)

    def text(rows: list[dict[str, Any]]) -> str:
        return "\n".join(
            f"{h['at']}  {h['action']:<15} {h['from_version'] or '-':>10} -> "
            f"{h['to_version'] or '-':<10} {h['user']:<12} {h['reason']}"
            for h in rows
        )

    return rows, text


def cmd_scan(args: argparse.Namespace) -> Any:
    from .scan import cli_scan, format_report

    app = _config(args)
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"omniplug scan: {path} does not exist")
    with tempfile.TemporaryDirectory() as tmp:
        # What an install would keep: the package without its tool caches (it drops them).
        if path.is_file():
            path = archive.extract(path, Path(tmp) / "pkg", archive.ArchiveLimits())
        else:
            path = Path(shutil.copytree(path, Path(tmp) / "pkg", symlinks=True))
        for warning in archive.left_out_warning(archive.drop_tool_caches(path)):
            print(f"omniplug: {warning}", file=sys.stderr)
        report, code = cli_scan(
            path, vulndb_path=app.scan_vulndb_path or None, max_file_bytes=app.scan_max_file_bytes
        )
    args.exit_code = code
    return report.to_dict(), format_report


COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "run": cmd_run,
    "sandbox": cmd_sandbox,
    "scan": cmd_scan,
    "new": cmd_new,
    "pack": cmd_pack,
    "install": cmd_install,
    "dev": cmd_install,
    "list": cmd_list,
    "info": cmd_info,
    "enable": cmd_enable,
    "disable": cmd_enable,
    "update": cmd_update,
    "rollback": cmd_rollback,
    "uninstall": cmd_uninstall,
    "history": cmd_history,
}


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command takes, before or after its name.

    On the subcommands they default to ``SUPPRESS``, so ``omniplug --data-dir X install P``
    keeps X: a subparser's own default would otherwise overwrite the top-level value.
    """

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--data-dir", default=default(None), help="store folder (default: see omniplug --help)"
    )
    parser.add_argument("--db-url", default=default(None), help="SQLAlchemy URL of the store")
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON instead of text"
    )
    parser.add_argument("--user", default=default("cli"), help="name recorded in the history")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _common_options(common, defaults=False)
    parser = _Parser(prog="omniplug", description=__doc__.splitlines()[0])
    _common_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    add_project_arguments(sub.add_parser("new", parents=[common], help="scaffold a plugin project"))

    p = sub.add_parser("pack", parents=[common], help="pack a plugin folder as .tar.gz")
    p.add_argument("folder")
    p.add_argument("-o", "--output")

    for name, text in (
        ("install", "install a .tar.gz or a folder"),
        ("dev", "install a folder as its development version (<version>-dev), active at once; "
                "the next dev replaces it in place, no version bump"),
    ):  # fmt: skip
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("package")
        p.add_argument("--force", action="store_true", help="install past a refusing scan")
        p.add_argument("--enable", action="store_true", help="enable it after installing")
    once = sub.choices["install"].add_mutually_exclusive_group()
    once.add_argument(
        "--if-missing", action="store_true", help="do nothing when this version is installed"
    )
    once.add_argument(
        "--upgrade",
        action="store_true",
        help="install it and make it active when newer than the active version; else nothing",
    )

    p = sub.add_parser(
        "scan", parents=[common], help="security-scan a plugin folder or archive (exit 1: refused)"
    )
    p.add_argument("path")

    p = sub.add_parser("run", parents=[common], help="run an enabled plugin in the sandbox")
    p.add_argument("plugin")
    p.add_argument("--input", help="JSON file with input_data (columns, rows or records); - for stdin")
    p.add_argument("--parameters", help="JSON object of parameters")
    p.add_argument("--config", help="JSON object of config values")
    p.add_argument("--extension-point")
    p.add_argument("--timeout", type=float)

    p = sub.add_parser("sandbox", parents=[common], help="build the sandbox images or show them")
    p.add_argument("action", choices=["build", "status"])

    p = sub.add_parser("list", parents=[common], help="list installed plugins")
    p.add_argument("--enabled", choices=["yes", "no"])
    p.add_argument("--category")
    p.add_argument("--language", choices=["python", "r"])
    p.add_argument("--extension-point")

    for name, text in (
        ("info", "show a plugin's details"),
        ("enable", "enable a plugin"),
        ("disable", "disable a plugin"),
        ("uninstall", "remove a plugin and all its versions"),
        ("history", "show a plugin's version history"),
    ):
        sub.add_parser(name, parents=[common], help=text).add_argument("plugin")

    p = sub.add_parser("update", parents=[common], help="switch to a newer installed version")
    p.add_argument("plugin")
    p.add_argument("target_version", nargs="?")

    p = sub.add_parser("rollback", parents=[common], help="switch back to an older version")
    p.add_argument("plugin")
    p.add_argument("target_version", nargs="?")
    p.add_argument("--reason", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``omniplug``; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        result, text = COMMANDS[args.command](args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return USER_ERROR
    except PluginError as e:
        print(f"omniplug: {e.message}", file=sys.stderr)
        return USER_ERROR
    _print(result, args.json, text)
    return getattr(args, "exit_code", 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
