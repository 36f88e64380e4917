"""File-level checks of a package, and the inventory of source files the code scanners read.

Walks the tree without following links and without reading anything but a file's first bytes, so
it is safe on any extracted upload. Binary and compiled content is refused outright: the code
scanners only see source, so anything they cannot read must not ship.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .report import Finding
from .rules import finding

PYTHON_SUFFIXES = (".py", ".pyw")
R_SUFFIXES = (".R", ".r")
#: Refused by name whatever their content: compiled code, native libraries, archives of code,
#: serialised objects, and ``.pth`` files (which ``site`` executes at interpreter start).
BINARY_SUFFIXES = frozenset(
    [
        ".pyc",
        ".pyo",
        ".pyd",
        ".so",
        ".dll",
        ".dylib",
        ".o",
        ".a",
        ".exe",
        ".pth",
        ".whl",
        ".egg",
        ".zip",
        ".jar",
        ".class",
        ".rds",
        ".rda",
        ".rdata",
        ".rdb",
        ".rdx",
        ".pkl",
        ".pickle",
    ]
)
#: Files the interpreter runs on its own before the plugin's code.
STARTUP_FILES = frozenset(
    {".Rprofile", "Rprofile.site", ".Renviron", "sitecustomize.py", "usercustomize.py"}
)
#: Hidden files that are plain version-control metadata: no interpreter reads them, and the
#: spec's scaffold ships a ``.gitignore``, so they are not findings.
VCS_METADATA = frozenset({".gitignore", ".gitattributes"})
#: Image assets (by magic bytes) are the only binary content allowed, e.g. a plugin icon.
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
SNIFF_BYTES = 8192


@dataclass
class Inventory:
    """What the file checks found, and the source files the code scanners should read."""

    findings: list[Finding] = field(default_factory=list)
    python_files: list[str] = field(default_factory=list)
    r_files: list[str] = field(default_factory=list)


def inspect_files(package_dir: Path, entry_point: str | None, max_file_bytes: int) -> Inventory:
    """Check every file and directory under ``package_dir`` (rules F001-F008)."""
    inv = Inventory()
    root = Path(package_dir)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                inv.findings.append(finding("F007", rel, 0, f"{rel} -> {os.readlink(path)}"))
            elif name == "__pycache__":
                inv.findings.append(finding("F001", rel, 0, f"{rel}/ holds compiled Python"))
            elif name.startswith("."):
                inv.findings.append(
                    finding(
                        "F005", rel, 0, f"hidden directory {rel}/ (not scanned)", severity="HIGH"
                    )
                )
            else:
                _check_mode(inv, rel, st.st_mode, is_dir=True, entry_point=entry_point)
                continue
            dirnames.remove(name)  # do not descend into what was just refused
        for name in sorted(filenames):
            _check_file(inv, root, here / name, entry_point, max_file_bytes)
    inv.python_files.sort()
    inv.r_files.sort()
    return inv


def _check_file(
    inv: Inventory, root: Path, path: Path, entry_point: str | None, max_file_bytes: int
) -> None:
    rel = path.relative_to(root).as_posix()
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        inv.findings.append(finding("F007", rel, 0, f"{rel} -> {os.readlink(path)}"))
        return
    if not stat.S_ISREG(st.st_mode):
        inv.findings.append(finding("F001", rel, 0, f"{rel} is not a regular file"))
        return
    _check_mode(inv, rel, st.st_mode, is_dir=False, entry_point=entry_point)
    name = path.name
    if name in STARTUP_FILES:
        inv.findings.append(finding("F008", rel, 0, rel))
    elif name.startswith(".") and name not in VCS_METADATA:
        inv.findings.append(finding("F005", rel, 0, rel))
    if st.st_size > max_file_bytes:
        inv.findings.append(
            finding("F006", rel, 0, f"{rel} has {st.st_size} bytes, the cap is {max_file_bytes}")
        )
        return  # too large to read: not scanned, and refused anyway
    if path.suffix.lower() in BINARY_SUFFIXES:
        inv.findings.append(finding("F001", rel, 0, f"{rel} ({path.suffix} files are refused)"))
        return
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if _is_binary(head):
        if not head.startswith(IMAGE_MAGIC):
            inv.findings.append(finding("F001", rel, 0, f"{rel} has binary content"))
        return
    if name.endswith(PYTHON_SUFFIXES):
        inv.python_files.append(rel)
    elif name.endswith(R_SUFFIXES):
        inv.r_files.append(rel)


def _check_mode(
    inv: Inventory, rel: str, mode: int, *, is_dir: bool, entry_point: str | None
) -> None:
    if mode & (stat.S_ISUID | stat.S_ISGID):
        inv.findings.append(finding("F002", rel, 0, f"{rel} has mode {stat.filemode(mode)}"))
    if mode & stat.S_IWOTH:
        inv.findings.append(finding("F003", rel, 0, f"{rel} has mode {stat.filemode(mode)}"))
    if not is_dir and mode & 0o111 and rel != entry_point:
        inv.findings.append(finding("F004", rel, 0, f"{rel} has mode {stat.filemode(mode)}"))


def _is_binary(head: bytes) -> bool:
    """NUL bytes or text that is not UTF-8 (allowing a multi-byte character cut at the end)."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return not (len(head) == SNIFF_BYTES and e.start >= SNIFF_BYTES - 3)
    return False
