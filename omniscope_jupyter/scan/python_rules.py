"""Python imports and calls checked against the manifest's permissions (PY000, PY101-PY104).

Works on the ``ast`` of each file, resolving import aliases (``import os as o``, ``from shutil
import rmtree``) so the common spellings are caught. Starting a process (PY104) is refused
whatever the permissions, as a call or as a function handed on (``Process(target=os.system)``).
A data writer aimed at an in-memory buffer (``savefig(io.BytesIO())``) writes no file. Dynamic access (``importlib``,
``getattr(__builtins__, ...)``, ``exec`` of decoded text) is out of reach of any static check:
the sandbox, not this scan, is what contains it.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

from .report import Finding
from .rules import MEDIUM, finding

#: Modules (and their submodules) that open network connections.
NETWORK_MODULES = frozenset(
    [
        "socket",
        "socketserver",
        "ssl",
        "urllib",
        "urllib2",
        "urllib3",
        "http.client",
        "http.server",
        "http.cookiejar",
        "requests",
        "httpx",
        "aiohttp",
        "ftplib",
        "smtplib",
        "poplib",
        "imaplib",
        "telnetlib",
        "xmlrpc",
        "websocket",
        "websockets",
        "paramiko",
        "pycurl",
        "grpc",
    ]
)
NATIVE_MODULES = frozenset({"ctypes", "_ctypes", "cffi"})
#: Functions that change the file system, by qualified name after alias resolution.
FS_FUNCTIONS = frozenset(
    [
        "os.remove",
        "os.unlink",
        "os.rename",
        "os.renames",
        "os.replace",
        "os.rmdir",
        "os.removedirs",
        "os.mkdir",
        "os.makedirs",
        "os.chmod",
        "os.chown",
        "os.lchown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.open",
        "os.mkfifo",
        "os.mknod",
        "os.utime",
        "shutil.copy",
        "shutil.copy2",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.chown",
        "shutil.make_archive",
        "shutil.unpack_archive",
        "numpy.save",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.savetxt",
        "numpy.ndarray.tofile",
    ]
)
#: Method names that write files whatever the object (pathlib and friends).
FS_METHODS = frozenset(
    [
        "write_text",
        "write_bytes",
        "touch",
        "symlink_to",
        "hardlink_to",
        "mkdir",
        "rmdir",
        "unlink",
        "chmod",
        "tofile",
    ]
)
#: Data writers that write a file when given a path (``df.to_csv()`` alone returns text).
PATH_WRITERS = frozenset(
    [
        "to_csv",
        "to_parquet",
        "to_excel",
        "to_pickle",
        "to_json",
        "to_feather",
        "to_hdf",
        "to_stata",
        "to_orc",
        "savefig",
    ]
)
#: ``open``-like functions whose second argument is the mode.
OPEN_FUNCTIONS = frozenset(
    [
        "open",
        "io.open",
        "codecs.open",
        "gzip.open",
        "bz2.open",
        "lzma.open",
        "tarfile.open",
        "zipfile.ZipFile",
    ]
)
#: Functions that start another program or a shell (PY104), by qualified name.
SPAWNERS = frozenset(
    [
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "os.system",
        "os.popen",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.startfile",
        "pty.spawn",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "multiprocessing.set_executable",
    ]
    + [f"os.exec{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")]
    + [f"os.spawn{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")]
)
#: A spawn context's ``set_executable`` makes "spawn" start any program (a shell) instead.
SPAWN_METHODS = frozenset({"set_executable"})
#: Constructors of in-memory buffers, and streams that are no files of the plugin's.
BUFFERS = frozenset({"io.BytesIO", "io.StringIO"})
STREAMS = frozenset({"sys.stdout", "sys.stderr"})
#: Keyword names under which data writers take their target.
PATH_KEYWORDS = frozenset({"path", "path_or_buf", "excel_writer", "fname"})
MODE_RE = re.compile(r"^[rwxabtU+]{1,4}$")
WRITE_MODE_CHARS = frozenset("wax+")


def python_rule_findings(
    package_dir: Path, files: list[str], permissions: set[str]
) -> tuple[list[Finding], list[str]]:
    """Check ``files``; returns the findings and the files that parsed (for Bandit)."""
    findings: list[Finding] = []
    parsed: list[str] = []
    for rel in files:
        source = (Path(package_dir) / rel).read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not ours
                tree = ast.parse(source, filename=rel)
        except SyntaxError as e:
            findings.append(finding("PY000", rel, e.lineno or 0, f"{e.msg}"))
            continue
        except ValueError as e:  # e.g. NUL bytes or undecodable source
            findings.append(finding("PY000", rel, 0, str(e)))
            continue
        parsed.append(rel)
        visitor = _PermissionVisitor(rel, permissions)
        visitor.visit(tree)
        findings.extend(visitor.findings)
    return findings, parsed


class _PermissionVisitor(ast.NodeVisitor):
    def __init__(self, rel: str, permissions: set[str]) -> None:
        self.rel = rel
        self.permissions = permissions
        self.aliases: dict[str, str] = {}
        self.findings: list[Finding] = []
        #: Per scope (module, then each enclosing function), whether a name holds a buffer.
        self.scopes: list[dict[str, bool]] = [{}]
        #: The ``func`` nodes of calls: a use there is a call, not a function handed on.
        self._called: set[int] = set()

    # -- scopes and in-memory buffers ---------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        for decorator in node.decorator_list:
            self.visit(decorator)
        args = node.args
        params = args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
        self.scopes.append({a.arg: False for a in params if a is not None})
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        for target in node.targets:
            self._bind(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        self._bind(node.target, node.value)

    def visit_withitem(self, node: ast.withitem) -> None:
        self.generic_visit(node)
        if node.optional_vars is not None:
            self._bind(node.optional_vars, node.context_expr)

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.scopes[-1][target.id] = value is not None and self._is_buffer(value)

    def _is_buffer(self, expr: ast.expr) -> bool:
        """An ``io.BytesIO()``/``io.StringIO()``, ``sys.stdout``, or a name bound to a buffer."""
        if isinstance(expr, ast.Call):
            return self._qualname(expr.func) in BUFFERS
        if isinstance(expr, ast.Name):
            for scope in reversed(self.scopes):
                if expr.id in scope:
                    return scope[expr.id]
        return self._qualname(expr) in STREAMS

    # -- imports --------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            self._check_module(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # relative imports are the plugin's own modules
        self._check_module(node.module, node.lineno)
        for alias in node.names:
            if alias.name == "*":
                continue
            qualified = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = qualified
            if _matches(qualified, NETWORK_MODULES) and not _matches(node.module, NETWORK_MODULES):
                self._check_module(qualified, node.lineno)

    def _check_module(self, module: str, line: int) -> None:
        if _matches(module, NATIVE_MODULES):
            self.findings.append(finding("PY103", self.rel, line, f"imports {module}"))
        elif _matches(module, NETWORK_MODULES) and "network" not in self.permissions:
            self.findings.append(
                finding("PY101", self.rel, line, f"imports {module}; missing permission 'network'")
            )

    # -- calls ----------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self._called.add(id(node.func))
        name = self._qualname(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name in SPAWNERS or method in SPAWN_METHODS:
            self._spawn(node, f"{name or method}()")
        if "file_system" not in self.permissions:
            self._check_file_write(node)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self._check_reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_reference(node)
        self.generic_visit(node)

    def _check_reference(self, node: ast.Name | ast.Attribute) -> None:
        """A spawning function handed on (``map(subprocess.run, ...)``) is as good as called."""
        if isinstance(node.ctx, ast.Load) and id(node) not in self._called:
            name = self._qualname(node)
            if name in SPAWNERS:
                self._spawn(node, f"reference to {name}")

    def _spawn(self, node: ast.expr, what: str) -> None:
        self.findings.append(finding("PY104", self.rel, node.lineno, what))

    def _check_file_write(self, node: ast.Call) -> None:
        name = self._qualname(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        what = None
        severity = None
        if name in FS_FUNCTIONS:
            what = f"{name}()"
        elif name in OPEN_FUNCTIONS or (method == "open" and not self._is_module_attr(node.func)):
            mode = _mode_argument(node, position=1 if name in OPEN_FUNCTIONS else 0)
            if isinstance(mode, str):
                if not (MODE_RE.match(mode) and WRITE_MODE_CHARS & set(mode)):
                    return
                what = f"{name or method}(..., {mode!r})"
            elif mode is not None and name in OPEN_FUNCTIONS:
                what, severity = f"{name or method}() with a computed mode", MEDIUM
        elif method in FS_METHODS:
            what = f".{method}()"
        elif method in PATH_WRITERS and self._writes_a_file(node):
            what = f".{method}(path)"
        if what:
            self.findings.append(
                finding(
                    "PY102",
                    self.rel,
                    node.lineno,
                    f"{what}; missing permission 'file_system'",
                    severity=severity,
                )
            )

    def _writes_a_file(self, node: ast.Call) -> bool:
        """A data writer given a target that is not an in-memory buffer (or a standard stream)."""
        targets = node.args[:1] + [k.value for k in node.keywords if k.arg in PATH_KEYWORDS]
        return any(not self._is_buffer(t) for t in targets)

    def _is_module_attr(self, func: ast.expr) -> bool:
        """True for ``module.attr`` where ``module`` was imported (not an object's method)."""
        while isinstance(func, ast.Attribute):
            func = func.value
        return isinstance(func, ast.Name) and func.id in self.aliases

    def _qualname(self, func: ast.expr) -> str | None:
        """``o.path.join`` -> ``os.path.join`` through the import aliases; None if dynamic."""
        parts: list[str] = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            return None
        parts.append(self.aliases.get(func.id, func.id))
        name = ".".join(reversed(parts))
        return "numpy" + name[2:] if name.startswith("np.") else name


def _matches(module: str, names: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in names for i in range(1, len(parts) + 1))


def _mode_argument(node: ast.Call, position: int) -> str | ast.expr | None:
    """The ``mode`` of an ``open`` call: its text, the expression when computed, None if absent."""
    expr: ast.expr | None = None
    if len(node.args) > position:
        expr = node.args[position]
    for kw in node.keywords:
        if kw.arg == "mode":
            expr = kw.value
    if expr is None:
        return None
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return expr
