"""The R rules (R000-R012): facts extracted by R's parser, judged here against the permissions.

``r_rules.R`` runs R's own parser (``parse`` + ``getParseData``) over the package's R files and
prints every function call (name, ``pkg::``, line, first argument, string arguments, enclosing
call) and every symbol reference. It runs through an injected ``RRunner`` (a hardened container
in production, see ``r_runners``) so no plugin code is ever parsed, let alone run, by the
server's own processes. This module turns those facts into findings.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from .report import Finding
from .rules import HIGH, LOW, MEDIUM, finding

#: ``run_r(script_path, package_dir, files) -> stdout``: runs ``Rscript script package_dir files``.
RRunner = Callable[[Path, Path, list[str]], str]

R_RULES_SCRIPT = Path(__file__).with_name("r_rules.R")

SHELL = frozenset({"system", "system2", "shell", "shell.exec", "pipe"})
CODE_FROM_TEXT = frozenset({"str2lang", "str2expression"})
EVALUATORS = frozenset({"eval", "evalq", "eval.parent", "local"})
PARSERS = frozenset({"parse", "str2lang", "str2expression"})
NAME_LOOKUP = frozenset({"do.call", "match.fun", "get", "get0", "mget", "getFunction"})
SOURCING = frozenset({"source", "sys.source"})
NETWORK_CALLS = frozenset(
    {
        "download.file",
        "url",
        "socketConnection",
        "socketAccept",
        "serverSocket",
        "make.socket",
        "read.socket",
        "write.socket",
        "socketSelect",
        "curlGetHeaders",
    }
)
NATIVE = frozenset(
    {".Call", ".C", ".External", ".External2", ".Fortran", "dyn.load", "library.dynam", ".Internal"}
)
PROCESS_STATE = frozenset(
    {"Sys.setenv", "Sys.unsetenv", "Sys.chmod", "Sys.umask", "Sys.setFileTime"}
)
DELETES = frozenset({"unlink", "file.remove"})
INSTALLERS = frozenset(
    {
        "install.packages",
        "update.packages",
        "install_github",
        "install_url",
        "install_local",
        "install_cran",
        "install_version",
        "install_git",
    }
)
DESERIALISERS = frozenset({"readRDS", "load", "unserialize"})
PACKAGE_LOADERS = frozenset(
    {"library", "require", "requireNamespace", "loadNamespace", "attachNamespace"}
)
NETWORK_PACKAGES = frozenset(
    {
        "httr",
        "httr2",
        "curl",
        "RCurl",
        "crul",
        "websocket",
        "ssh",
        "httpuv",
        "servr",
        "mailR",
        "sendmailR",
        "ftp",
    }
)
FILE_WRITERS = frozenset(
    {
        "write.csv",
        "write.csv2",
        "write.table",
        "saveRDS",
        "save",
        "save.image",
        "writeBin",
        "writeChar",
        "sink",
        "file.create",
        "dir.create",
        "file.copy",
        "file.rename",
        "file.append",
        "file.symlink",
        "file.link",
        "pdf",
        "png",
        "jpeg",
        "bmp",
        "tiff",
        "svg",
    }
)
CONNECTIONS = frozenset({"file", "gzfile", "bzfile", "xzfile"})
WRITE_MODES = re.compile(r"^[wa][bt+]*$")
URL_RE = re.compile(r"^(https?|ftps?)://", re.IGNORECASE)
#: Names whose mere reference (``f <- system``, ``sapply(x, system)``) is flagged like a call.
REFERENCED = SHELL | CODE_FROM_TEXT | NATIVE | INSTALLERS
#: A name looked up by string (``do.call("system", ...)``) is HIGH when it is one of these.
DANGEROUS_NAMES = REFERENCED | EVALUATORS | PARSERS | SOURCING | NETWORK_CALLS | DELETES
#: R before 4.4 runs code while reading a crafted RDS (CVE-2024-27322).
FIXED_DESERIALISATION = Version("4.4.0")


class RScanError(RuntimeError):
    """The R extractor failed or printed something other than its JSON."""


@dataclass(frozen=True)
class _Ctx:
    file: str
    permissions: frozenset[str]
    r_version: Version | None
    #: The package's R files, all scanned: sourcing one of them by its literal name is no risk.
    scanned: frozenset[str] = frozenset()

    def sources_scanned_file(self, call: dict[str, Any]) -> bool:
        """True for ``source("x.R")`` naming, by a literal, an R file of the package itself."""
        path = call.get("arg1")
        if call.get("arg1_kind") != "string" or not path or path.startswith(("/", "~")):
            return False
        here = posixpath.dirname(self.file)
        return any(
            posixpath.normpath(posixpath.join(base, path)) in self.scanned for base in ("", here)
        )


def r_findings(
    run_r: RRunner, package_dir: Path, files: list[str], permissions: set[str]
) -> tuple[list[Finding], str]:
    """Run the extractor over ``files`` and apply the R rules; returns findings and R's version."""
    if not files:
        return [], ""
    try:
        out = run_r(R_RULES_SCRIPT, Path(package_dir), list(files))
        facts = json.loads(out)
    except (RScanError, ValueError) as e:
        # Fail closed: R code that could not be scanned is not installed.
        detail = f"{type(e).__name__}: {e}"[:300]
        return [finding("R099", f, 0, detail) for f in files], ""
    r_version = str(facts.get("r_version", ""))
    return apply_r_rules(facts, permissions), r_version


def apply_r_rules(facts: dict[str, Any], permissions: set[str]) -> list[Finding]:
    """The findings for the extractor's output ``facts`` (see ``r_rules.R``)."""
    try:
        version: Version | None = Version(str(facts.get("r_version")))
    except InvalidVersion:
        version = None
    out: list[Finding] = []
    scanned = frozenset(str(f["file"]) for f in facts.get("files", []) if not f.get("error"))
    for f in facts.get("files", []):
        ctx = _Ctx(f["file"], frozenset(permissions), version, scanned)
        if f.get("error"):
            msg = str(f["error"].get("message", "")).split("\n")[0]
            msg = msg.split(": ", 1)[-1] if ": " in msg else msg
            out.append(finding("R000", ctx.file, int(f["error"].get("line") or 0), msg))
            continue
        calls = {c["id"]: c for c in f.get("calls", [])}
        for call in f.get("calls", []):
            out.extend(_call_findings(ctx, call, calls))
        for sym in f.get("symbols", []):
            if sym["name"] in REFERENCED:
                out.append(
                    _named(ctx, sym["name"], int(sym["line"]), f"reference to {sym['name']}")
                )
    return out


def _named(ctx: _Ctx, name: str, line: int, detail: str) -> Finding:
    """The finding for a use of one of the dangerous names, by the group it belongs to."""
    if name in SHELL:
        return finding("R001", ctx.file, line, detail)
    if name in CODE_FROM_TEXT:
        return finding("R002", ctx.file, line, detail)
    if name in NATIVE:
        return finding("R006", ctx.file, line, detail)
    return finding("R009", ctx.file, line, detail)


def _call_findings(
    ctx: _Ctx, call: dict[str, Any], calls: dict[int, dict[str, Any]]
) -> list[Finding]:
    name, line, pkg = call["name"], int(call["line"]), call.get("pkg")
    shown = f"{pkg}::{name}()" if pkg else f"{name}()"
    net = "network" in ctx.permissions
    fs = "file_system" in ctx.permissions
    out = []
    if name in REFERENCED:
        out.append(_named(ctx, name, line, shown))
    elif name in EVALUATORS and _has_inner(call, calls, PARSERS):
        out.append(finding("R002", ctx.file, line, f"{shown} of parsed text"))
    elif name in NAME_LOOKUP:
        kind, arg = call.get("arg1_kind"), call.get("arg1")
        if kind == "string":
            sev = HIGH if arg in DANGEROUS_NAMES else LOW
            out.append(finding("R003", ctx.file, line, f'{name}("{arg}")', severity=sev))
        elif kind == "other" or (kind == "symbol" and name != "do.call"):
            out.append(
                finding("R003", ctx.file, line, f"{name}() of a computed name", severity=MEDIUM)
            )
    elif name in SOURCING and not ctx.sources_scanned_file(call):
        out.append(finding("R004", ctx.file, line, shown))
    elif name in NETWORK_CALLS:
        out.append(_permission_finding(ctx, "R005", line, shown, "network", net))
    elif name in PROCESS_STATE:
        out.append(finding("R007", ctx.file, line, shown))
    elif name in DELETES:
        out.append(_permission_finding(ctx, "R008", line, shown, "file_system", fs))
    elif name == "install" and pkg == "BiocManager":
        out.append(finding("R009", ctx.file, line, shown))
    elif name in DESERIALISERS:
        old = ctx.r_version is None or ctx.r_version < FIXED_DESERIALISATION
        out.append(finding("R010", ctx.file, line, shown, severity=HIGH if old else None))
    elif name in PACKAGE_LOADERS and call.get("arg1") in NETWORK_PACKAGES and not net:
        out.append(
            finding("R011", ctx.file, line, f"{name}({call['arg1']}); missing permission 'network'")
        )
    elif not fs and (
        name in FILE_WRITERS
        or (name in CONNECTIONS and any(WRITE_MODES.match(s) for s in call.get("strings", [])))
    ):
        out.append(finding("R012", ctx.file, line, f"{shown}; missing permission 'file_system'"))
    if pkg in NETWORK_PACKAGES and not net:
        out.append(finding("R011", ctx.file, line, f"{shown}; missing permission 'network'"))
    if name not in NETWORK_CALLS and any(URL_RE.match(s) for s in call.get("strings", [])):
        out.append(_permission_finding(ctx, "R005", line, f"{shown} of a URL", "network", net))
    return out


def _permission_finding(
    ctx: _Ctx, rule: str, line: int, shown: str, perm: str, granted: bool
) -> Finding:
    """HIGH when the permission is missing; LOW (noted, sandbox-enforced) when declared."""
    if granted:
        return finding(
            rule, ctx.file, line, f"{shown} (permission '{perm}' declared)", severity=LOW
        )
    return finding(rule, ctx.file, line, f"{shown}; missing permission '{perm}'")


def _has_inner(
    call: dict[str, Any], calls: dict[int, dict[str, Any]], names: frozenset[str]
) -> bool:
    """True when a call named in ``names`` is nested (at any depth) inside ``call``."""
    for other in calls.values():
        parent = other.get("within")
        while parent is not None:
            if parent == call["id"]:
                if other["name"] in names:
                    return True
                break
            parent = calls.get(parent, {}).get("within")
    return False
