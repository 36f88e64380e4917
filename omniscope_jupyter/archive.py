"""Safe extraction and packing of plugin archives (``.tar.gz`` as the spec's ``tar -czf`` makes).

Extraction never trusts the archive: each member is checked before a byte of it is written and
the whole package is refused, naming the member, at the first problem. Files are written by us
(never ``TarFile.extract``) with plain permissions, so setuid and world-writable bits cannot
survive, and every target is checked with ``Path.is_relative_to`` after resolving (Python 3.11's
``data`` filter alone has had bypasses, e.g. CVE-2025-4517).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import lzma
import os
import shutil
import tarfile
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .errors import InvalidPackage, TooLarge

_CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps that bound what one archive may expand to."""

    max_members: int = 2000
    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_depth: int = 16
    max_name_length: int = 255


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_name(name: str, limits: ArchiveLimits) -> PurePosixPath:
    """Return the member's relative path, or raise naming the problem."""
    if not name or len(name) > 4096:
        raise InvalidPackage(f"Archive member {name[:80]!r} has an empty or overlong name.")
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
        raise InvalidPackage(f"Archive member {name!r} has a name that is not valid UTF-8.")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidPackage(f"Archive member {name!r} has a control character in its name.")
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise InvalidPackage(f"Archive member {name!r} has an absolute path.")
    path = PurePosixPath(name)
    parts = [p for p in path.parts if p != "."]
    if ".." in parts:
        raise InvalidPackage(f"Archive member {name!r} points outside the package ('..').")
    if not parts:
        return PurePosixPath(".")
    if len(parts) > limits.max_depth:
        raise InvalidPackage(
            f"Archive member {name!r} is nested {len(parts)} levels deep "
            f"(at most {limits.max_depth})."
        )
    if any(len(p) > limits.max_name_length for p in parts):
        raise InvalidPackage(f"Archive member {name!r} has a path component that is too long.")
    return PurePosixPath(*parts)


#: Room for tar headers (512 bytes a member, pax records) beyond the members' own bytes.
_HEADER_SLACK = 4 * 1024 * 1024
_MAGIC = {b"\x1f\x8b": gzip.GzipFile, b"BZh": bz2.BZ2File, b"\xfd7zXZ\x00": lzma.LZMAFile}


class _CappedStream(io.RawIOBase):
    """The archive's decompressed bytes, refused past a cap *before* they are read.

    ``tarfile`` reads a pax or GNU long-name header whole into memory before any member is
    seen, so only a cap on the decompressed stream itself bounds what a tiny archive costs.
    """

    def __init__(self, raw: IO[bytes], cap: int) -> None:
        self.raw, self.cap, self.count = raw, cap, 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        room = self.cap - self.count
        if room <= 0:
            raise TooLarge(f"The archive expands to more than {self.cap} bytes.")
        data = self.raw.read(min(len(view), room + 1))
        self.count += len(data)
        if self.count > self.cap:
            raise TooLarge(f"The archive expands to more than {self.cap} bytes.")
        view[: len(data)] = data
        return len(data)


def _open_capped(archive: Path, cap: int) -> IO[bytes]:
    """Open ``archive`` (gzip, bzip2, xz or plain tar) as a capped decompressed stream."""
    with archive.open("rb") as probe:
        head = probe.read(6)
    opener = next((o for magic, o in _MAGIC.items() if head.startswith(magic)), None)
    raw: IO[bytes] = opener(archive, "rb") if opener else archive.open("rb")
    return io.BufferedReader(_CappedStream(raw, cap), buffer_size=_CHUNK)


def extract(archive: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Extract ``archive`` into the empty folder ``dest``; return the package root.

    The package root is ``dest`` when files sit at the archive's root, or the single top-level
    folder (what ``tar -czf my_plugin.tar.gz my_plugin/`` makes) when there is exactly one.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    seen: dict[str, str] = {}
    members = 0
    unpacked = 0
    stream = _open_capped(archive, limits.max_unpacked_bytes + _HEADER_SLACK)
    try:
        tar = tarfile.open(fileobj=stream, mode="r|")  # closed by the `with` below
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        stream.close()
        raise InvalidPackage(f"The package is not a readable tar archive: {e}.") from e
    try:
        with tar:
            for member in tar:
                members += 1
                if members > limits.max_members:
                    raise InvalidPackage(
                        f"The archive has more than {limits.max_members} entries."
                    )
                rel = _check_name(member.name, limits)
                if not (member.isreg() or member.isdir()):
                    kind = (
                        "a symlink" if member.issym()
                        else "a hard link" if member.islnk()
                        else "a device or FIFO" if (member.ischr() or member.isblk() or member.isfifo())
                        else "a special file"
                    )
                    raise InvalidPackage(
                        f"Archive member {member.name!r} is {kind}; only regular files and "
                        "folders are allowed."
                    )
                if str(rel) == ".":
                    continue
                key = unicodedata.normalize("NFC", str(rel)).casefold()
                if key in seen and not (member.isdir() and seen[key] == "dir"):
                    raise InvalidPackage(
                        f"Archive member {member.name!r} duplicates or differs only in case "
                        "from another member."
                    )
                seen[key] = "dir" if member.isdir() else "file"
                target = root / rel
                if member.isdir():
                    target.mkdir(mode=0o755, parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                if not target.parent.resolve().is_relative_to(root):
                    raise InvalidPackage(f"Archive member {member.name!r} escapes the package.")
                unpacked += member.size
                if unpacked > limits.max_unpacked_bytes:
                    raise TooLarge(
                        f"The archive expands to more than {limits.max_unpacked_bytes} bytes."
                    )
                src = tar.extractfile(member)
                assert src is not None  # regular file
                mode = 0o755 if member.mode & 0o100 else 0o644
                _write_new_file(target, src, mode, member.size)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        raise InvalidPackage(f"The package archive is corrupt or truncated: {e}.") from e
    finally:
        stream.close()
    return _package_root(root)


def _write_new_file(target: Path, src: IO[bytes], mode: int, size: int) -> None:
    # O_EXCL + O_NOFOLLOW: never write through something already there.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    written = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            written += len(chunk)
            if written > size:
                raise InvalidPackage(f"Archive member {target.name!r} is larger than declared.")
            out.write(chunk)
    os.chmod(target, mode)  # umask-independent, and no setuid/world-writable bits


def _package_root(root: Path) -> Path:
    entries = [p for p in root.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not (root / "manifest.json").exists():
        return entries[0]
    return root


#: Folders tools write beside the code: bytecode, test, type-check and lint caches, notebook
#: checkpoints. Never part of a package: a stale ``.pyc`` could run code the scan never saw.
TOOL_CACHES = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".Rproj.user",
    }
)
#: Names never packed: tool caches, VCS data, virtual environments.
PACK_EXCLUDE = TOOL_CACHES | {".git", ".venv"}


def drop_tool_caches(root: Path) -> list[str]:
    """Remove every tool-cache folder under ``root``; return them (``sub/__pycache__/``).

    What an install does to an extracted package, so ``tar -czf`` of a folder whose tests ran
    installs; a cache that is a link is left for the scan to refuse.
    """
    dropped: list[str] = []
    for dirpath, dirnames, _files in os.walk(root):
        for name in sorted(d for d in dirnames if d in TOOL_CACHES):
            path = Path(dirpath) / name
            if not path.is_symlink():
                shutil.rmtree(path)
                dropped.append(f"{path.relative_to(root).as_posix()}/")
        dirnames[:] = [d for d in dirnames if d not in TOOL_CACHES]
    return dropped


def left_out_warning(paths: list[str]) -> list[str]:
    """The install answer's warning about caches left out of a package (none: no warning)."""
    if not paths:
        return []
    return [
        "left out of the package, as tool caches, version control and virtual environments "
        f"are never installed (a stale .pyc could run code the scan never saw): {', '.join(paths)}"
    ]


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A member without its packer's account (the extractor ignores owners anyway)."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(folder: Path, out: Path | IO[bytes]) -> list[str]:
    """Pack a plugin folder as ``tar -czf out folder/`` would, skipping caches and VCS data.

    Returns what was left out (folders end with ``/``). Symlinks are refused rather than
    followed: the extractor would refuse them anyway. Packing the same folder twice gives the
    same bytes (sorted members, no owner names, a gzip header without a timestamp), so its
    sha256, which provenance records, names the content.
    """
    folder = folder.resolve()
    if not folder.is_dir():
        raise InvalidPackage(f"{folder} is not a folder.")
    left_out: list[str] = []
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(out, "wb")) if isinstance(out, Path) else out
        gz = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
        tar = stack.enter_context(tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT))
        tar.add(folder, arcname=folder.name, recursive=False, filter=_anonymous)
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            left_out += [
                f"{(here / d).relative_to(folder).as_posix()}/"
                for d in sorted(dirnames)
                if d in PACK_EXCLUDE
            ]
            dirnames[:] = sorted(d for d in dirnames if d not in PACK_EXCLUDE)
            for name in sorted(dirnames) + sorted(filenames):
                path = here / name
                if path.is_symlink():
                    raise InvalidPackage(f"{path} is a symlink; plugin packages cannot hold links.")
                if name.endswith(".pyc"):
                    left_out.append(path.relative_to(folder).as_posix())
                    continue
                arcname = str(folder.name / path.relative_to(folder))
                tar.add(path, arcname=arcname, recursive=False, filter=_anonymous)
    return left_out
