"""Safe extraction: the attack corpus is refused whole, naming the member, writing nothing outside."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omniscope_jupyter.archive import ArchiveLimits, extract, pack
from omniscope_jupyter.errors import InvalidPackage, TooLarge

Member = Callable[[tarfile.TarFile], None]


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        tar.addfile(info, io.BytesIO(data))

    return add


def _special(name: str, kind: bytes, linkname: str = "") -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tar.addfile(info)

    return add


def _archive(path: Path, *members: Member, encoding: str = "utf-8") -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT, encoding=encoding) as tar:
        for add in members:
            add(tar)
    return path


ATTACKS: dict[str, tuple[list[Member], str]] = {
    "absolute path": ([_file("/tmp/evil.py")], "absolute path"),
    "dot-dot": ([_file("pkg/../../evil.py")], "outside the package"),
    "symlink": ([_special("pkg/link", tarfile.SYMTYPE, "/etc/passwd")], "a symlink"),
    "hardlink": (
        [_file("pkg/a"), _special("pkg/b", tarfile.LNKTYPE, "pkg/a")],
        "a hard link",
    ),
    "char device": ([_special("pkg/dev", tarfile.CHRTYPE)], "a device or FIFO"),
    "block device": ([_special("pkg/blk", tarfile.BLKTYPE)], "a device or FIFO"),
    "fifo": ([_special("pkg/fifo", tarfile.FIFOTYPE)], "a device or FIFO"),
    "duplicate": ([_file("pkg/a.py"), _file("pkg/a.py")], "duplicates or differs only in case"),
    "case collision": ([_file("pkg/A.py"), _file("pkg/a.py")], "differs only in case"),
    "control character": ([_file("pkg/a\x1b[31m.py")], "control character"),
    "deep nesting": ([_file("/".join(["d"] * 20) + "/f.py")], "levels deep"),
    "backslash path": ([_file("pkg\\..\\evil.py")], "absolute path"),
}


@pytest.mark.parametrize("case", sorted(ATTACKS))
def test_attack_is_refused_naming_the_member(tmp_path: Path, case: str) -> None:
    members, message = ATTACKS[case]
    archive = _archive(tmp_path / "evil.tar.gz", *members)
    staging = tmp_path / "staging" / "pkg"
    before = set(tmp_path.rglob("*"))
    with pytest.raises(InvalidPackage, match=message):
        extract(archive, staging)
    after = set(tmp_path.rglob("*"))
    outside = {p for p in after - before if not p.is_relative_to(tmp_path / "staging")}
    assert not outside, outside
    assert not Path("/tmp/evil.py").exists()


def test_non_utf8_name_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "latin1.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        _file("pkg/caf\xe9.py")(tar)
    with pytest.raises(InvalidPackage, match="not valid UTF-8"):
        extract(archive, tmp_path / "out")


def test_too_many_entries(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "many.tar.gz", *[_file(f"pkg/f{i}") for i in range(30)])
    with pytest.raises(InvalidPackage, match="more than 20 entries"):
        extract(archive, tmp_path / "out", ArchiveLimits(max_members=20))


def test_decompression_bomb_is_cut_off(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "bomb.tar.gz", _file("pkg/zeros", b"\0" * 5_000_000))
    assert archive.stat().st_size < 50_000
    with pytest.raises(TooLarge, match="expands to more than"):
        extract(archive, tmp_path / "out", ArchiveLimits(max_unpacked_bytes=1_000_000))


def test_not_an_archive_and_truncated(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a tarball at all" * 10)
    with pytest.raises(InvalidPackage):
        extract(junk, tmp_path / "out1")
    good = _archive(tmp_path / "good.tar.gz", _file("pkg/a.py", os.urandom(200_000)))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidPackage, match="corrupt or truncated"):
        extract(cut, tmp_path / "out2")


def test_single_top_folder_or_root_files(tmp_path: Path) -> None:
    top = _archive(tmp_path / "top.tar.gz", _file("my_plugin/manifest.json"), _file("my_plugin/a.py"))
    root = extract(top, tmp_path / "one")
    assert root.name == "my_plugin" and (root / "a.py").is_file()
    flat = _archive(tmp_path / "flat.tar.gz", _file("manifest.json"), _file("a.py"))
    root = extract(flat, tmp_path / "two")
    assert root == (tmp_path / "two").resolve() and (root / "manifest.json").is_file()
    dotted = _archive(tmp_path / "dot.tar.gz", _file("./manifest.json"), _file("./a.py"))
    assert (extract(dotted, tmp_path / "three") / "a.py").is_file()


def test_setuid_and_world_writable_bits_are_stripped(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "modes.tar.gz",
        _file("pkg/suid.sh", b"#!/bin/sh\n", mode=0o4777),
        _file("pkg/ww.txt", b"x", mode=0o666),
    )
    root = extract(archive, tmp_path / "out")
    suid = stat.S_IMODE((root / "suid.sh").stat().st_mode)
    ww = stat.S_IMODE((root / "ww.txt").stat().st_mode)
    assert suid == 0o755 and ww == 0o644


def test_pack_round_trips_like_tar_czf(tmp_path: Path) -> None:
    folder = tmp_path / "my_plugin"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (folder / "manifest.json").write_text("{}")
    (folder / "sub").mkdir()
    (folder / "sub" / "data.csv").write_text("a\n1\n")
    out = tmp_path / "my_plugin.tar.gz"
    pack(folder, out)
    with tarfile.open(out) as tar:
        names = sorted(tar.getnames())
    assert names == ["my_plugin", "my_plugin/manifest.json", "my_plugin/sub", "my_plugin/sub/data.csv"]
    again = tmp_path / "again.tar.gz"
    time.sleep(1.1)  # gzip and tar headers hold seconds: a second packing must not differ
    pack(folder, again)
    assert again.read_bytes() == out.read_bytes()  # provenance's package sha256 names content
    again.unlink()
    (folder / "link").symlink_to("/etc/passwd")
    with pytest.raises(InvalidPackage, match="symlink"):
        pack(folder, tmp_path / "again.tar.gz")


def test_pax_header_bomb_is_cut_off_before_it_is_read(tmp_path: Path) -> None:
    """A tiny archive whose one pax header decompresses to 64 MiB: refused within the cap.

    tarfile reads a pax header whole before any member is seen, so only the cap on the
    decompressed stream bounds it (the member caps never get a look).
    """
    import gzip
    import resource

    bomb = tmp_path / "pax.tar.gz"
    size = 64 * 1024 * 1024
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = size
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        zeros = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            out.write(zeros)
    assert bomb.stat().st_size < 200_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TooLarge, match="expands to more than"):
        extract(bomb, tmp_path / "out", ArchiveLimits(max_unpacked_bytes=1_000_000))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 32 * 1024, f"extraction grew the process by {grown_kib} KiB"
