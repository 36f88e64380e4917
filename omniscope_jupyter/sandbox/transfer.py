"""Wire formats between host and sandbox: DataFrames as Arrow IPC, everything else as JSON.

Arrow IPC is typed and holds no code, so neither side ever unpickles what the other wrote; the
pandas metadata Arrow stores beside the schema restores the index, categoricals, nullable ints
and time zones. This module is also copied into the runner image and imported by the runner
there, so host and container share one implementation; it must import only pandas, numpy,
pyarrow and the standard library.

Frames travel as files, never through JSON: the host writes a run's input as an Arrow IPC file
that the runner memory-maps (:func:`read_ipc_file`), and the runner hands its result frame back
as a sealed memfd that the host memory-maps in turn (``runner.py``). Messages between the host
and the runner go over one unix socket as length-prefixed frames (:func:`send_frame`,
:func:`recv_frame`, :class:`FrameReader`), with file descriptors attached as ``SCM_RIGHTS``.
"""

from __future__ import annotations

import array
import datetime as _dt
import decimal
import json
import math
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


class TransferError(ValueError):
    """The payload is not in the expected wire format."""


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame (with its index) as an Arrow table; Arrow's own errors for untypable columns."""
    if not isinstance(frame, pd.DataFrame):
        raise TransferError(f"expected a DataFrame, got {type(frame).__name__}")
    # Arrow field names are strings; the pandas metadata keeps the original labels' type.
    return pa.Table.from_pandas(frame.copy(deep=False), preserve_index=None)


def write_ipc(frame: pd.DataFrame, sink: Any) -> None:
    """Write ``frame`` as one Arrow IPC stream to ``sink`` (a path or a writable Arrow file)."""
    table = frame_to_table(frame)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def frame_to_ipc(frame: pd.DataFrame) -> bytes:
    """Encode a DataFrame (with its index) as one Arrow IPC stream, in memory."""
    sink = pa.BufferOutputStream()
    write_ipc(frame, sink)
    return bytes(sink.getvalue().to_pybytes())


def read_table(source: Any) -> pa.Table:
    """The table of an IPC stream (bytes, an Arrow buffer or file), extension types refused.

    Extension types are refused outright: the only way Arrow reading could run foreign code is
    through a registered Python extension type, and plain data never needs one.
    """
    try:
        if isinstance(source, (bytes, bytearray, memoryview, pa.Buffer)):
            source = pa.BufferReader(source)
        reader = pa.ipc.open_stream(source)
        _refuse_extension_types(reader.schema)
        return reader.read_all()
    except (pa.ArrowException, OSError) as exc:  # a codec's failure is an ArrowIOError (OSError)
        raise TransferError(f"not a valid Arrow IPC stream: {exc}") from exc


def read_ipc_file(path: Any) -> pd.DataFrame:
    """The frame of an IPC stream file, memory-mapped (no copy of the file into memory)."""
    try:
        source = pa.memory_map(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise TransferError(f"cannot map {path}: {exc}") from exc
    return table_to_frame(read_table(source))


def ipc_to_frame(payload: Any) -> pd.DataFrame:
    """Decode an Arrow IPC stream written by :func:`frame_to_ipc` (possibly by a hostile writer)."""
    return table_to_frame(read_table(payload))


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas, its pandas metadata honoured when it is sound.

    One block per column (``split_blocks``): a numeric column without nulls is then a view of
    the Arrow memory (a memory-mapped file) instead of a copy into one 2-D block. Such views
    are read-only; pandas' copy-on-write (pandas 3's only mode; the runner turns it on for
    pandas 2) copies a column the first time it is written to.
    """
    try:
        return table.to_pandas(split_blocks=True)
    except (pa.ArrowException, ValueError, TypeError, KeyError) as exc:
        # Bad pandas metadata: fall back to the plain columns rather than fail the run.
        stripped = table.replace_schema_metadata(None)
        frame = stripped.to_pandas(split_blocks=True)
        frame.attrs["transfer_warning"] = f"pandas metadata ignored: {exc}"
        return frame


def _refuse_extension_types(schema: pa.Schema) -> None:
    for field in schema:
        if isinstance(field.type, pa.ExtensionType) or (
            field.metadata and b"ARROW:extension:name" in field.metadata
        ):
            raise TransferError(f"column {field.name!r} uses an Arrow extension type")


def to_jsonable(value: Any) -> Any:
    """Turn a plugin's result value into plain JSON types (numpy scalars, timestamps, frames).

    NaN and infinities become ``None`` because JSON has no spelling for them.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return frame_to_split(value)
    if isinstance(value, (pd.Series, pd.Index)):
        return [to_jsonable(v) for v in value.tolist()]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return to_jsonable(float(value))
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def frame_to_split(frame: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame as ``{"columns", "index", "data"}`` (pandas' "split" orient), JSON-ready.

    Chosen for REST answers because it keeps column order and the index, reads well for small
    results, and is accepted back as ``input_data``. pandas' own (C) JSON writer does the work:
    NaN and NaT become null, timestamps ISO 8601.
    """
    text = frame.to_json(orient="split", date_format="iso", date_unit="us", default_handler=str)
    split: dict[str, Any] = json.loads(text)
    return {"columns": split["columns"], "index": split["index"], "data": split["data"]}


#: The column name of input given as bare values (a flat list, an unnamed Series).
VALUE_COLUMN = "value"


def as_frame(value: Any) -> pd.DataFrame:
    """A DataFrame as it is, a Series as its one-column frame (``value`` when it has no name)."""
    if isinstance(value, pd.Series):
        return value.to_frame(name=VALUE_COLUMN if value.name is None else value.name)
    if isinstance(value, pd.DataFrame):
        return value
    raise TransferError(f"expected a DataFrame or a Series, got {type(value).__name__}")


def frame_from_input(value: Any) -> pd.DataFrame:
    """Build a DataFrame from a request's ``input_data`` in any shape the spec shows.

    Accepts a dict of columns, a list of rows (lists or records), or the "split" dict this module
    answers with. Raises ``TransferError`` with one readable sentence otherwise.
    """
    try:
        if isinstance(value, dict) and set(value) == {"data"}:
            return frame_from_input(value["data"])
        if isinstance(value, dict):
            if "columns" in value and "data" in value and set(value) <= {"columns", "data", "index"}:
                return pd.DataFrame(value["data"], columns=value["columns"], index=value.get("index"))
            for name, column in value.items():
                if not isinstance(column, list):
                    raise TransferError(
                        f"input_data column {name!r} must be a list of values, "
                        f"got {type(column).__name__}"
                    )
            lengths = {len(c) for c in value.values()}
            if len(lengths) > 1:
                raise TransferError("input_data columns must all have the same length")
            return pd.DataFrame(value)
        if isinstance(value, list):
            if not all(isinstance(r, (list, dict)) for r in value):
                # A flat list of values is one column.
                return pd.DataFrame({VALUE_COLUMN: value})
            if value and all(isinstance(r, list) for r in value) and len({len(r) for r in value}) > 1:
                raise TransferError("input_data rows must all have the same length")
            return pd.DataFrame(value)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, TransferError):
            raise
        raise TransferError(f"input_data is not a table: {exc}") from exc
    raise TransferError(
        "input_data must be a dict of columns, a list of rows, or {columns, data[, index]}"
    )


# -- messages between the host and the runner ---------------------------------------------------

#: A frame is this header (its length, big-endian) and that many bytes.
_HEADER = struct.Struct(">I")
#: File descriptors one frame may carry (``SCM_RIGHTS``); more are refused and closed.
MAX_FDS = 4


class ChannelClosed(ConnectionError):
    """The other end closed the socket (for the runner: the host is gone)."""


def send_frame(sock: socket.socket, data: bytes, fds: Sequence[int] = ()) -> None:
    """Send one frame; ``fds`` travel with its header (``SCM_RIGHTS``)."""
    header = _HEADER.pack(len(data))
    small = len(data) <= 65536
    first = header + data if small else header
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sent = sock.sendmsg([first], ancillary)
    if sent < len(first):
        sock.sendall(first[sent:])
    if not small:
        sock.sendall(data)


def send_json(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    send_frame(sock, json.dumps(message, separators=(",", ":"), default=str).encode(), fds)


def _take_fds(ancillary: list[tuple[int, int, bytes]], into: list[int]) -> None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            into.extend(fds)


def close_fds(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _recv_exact(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    space = socket.CMSG_SPACE(MAX_FDS * 4)
    while got < size:
        count, ancillary, flags, _ = sock.recvmsg_into([view[got:]], space)
        _take_fds(ancillary, fds)
        if flags & socket.MSG_CTRUNC:
            raise TransferError(f"a message carried more than {MAX_FDS} file descriptors")
        if count == 0:
            raise ChannelClosed("the other end closed the channel")
        got += count
    return bytes(buffer)


def recv_frame(sock: socket.socket, cap: int) -> tuple[bytes, list[int]]:
    """Receive one frame (blocking, or up to the socket's timeout) and the fds it carried.

    A frame over ``cap`` bytes is refused before anything of it is read into memory; the
    caller owns (and must close) the returned fds, which are closed here on any error.
    """
    fds: list[int] = []
    try:
        (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, fds))
        if size > cap:
            raise TransferError(f"a message of {size} bytes is above the {cap}-byte cap")
        return _recv_exact(sock, size, fds), fds
    except BaseException:
        close_fds(fds)
        raise


def recv_json(sock: socket.socket, cap: int) -> tuple[dict[str, Any], list[int]]:
    """A JSON-object frame and its fds; ``TransferError`` when it is not one."""
    data, fds = recv_frame(sock, cap)
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        close_fds(fds)
        raise TransferError(f"a message is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        close_fds(fds)
        raise TransferError("a message is not a JSON object")
    return message, fds


class FrameReader:
    """Frames from a non-blocking socket as they complete (for a select loop), capped.

    File descriptors received so far go with the next complete frame.
    """

    def __init__(self, sock: socket.socket, cap: int) -> None:
        self.sock, self.cap = sock, cap
        self._buffer = bytearray()
        self._fds: list[int] = []
        self.closed = False

    def feed(self) -> None:
        """Read what is there (one ``recvmsg``); sets ``closed`` at end of stream."""
        try:
            data, ancillary, flags, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(MAX_FDS * 4))
        except (BlockingIOError, InterruptedError):
            return
        _take_fds(ancillary, self._fds)
        if flags & socket.MSG_CTRUNC:
            raise TransferError(f"a message carried more than {MAX_FDS} file descriptors")
        if not data:
            self.closed = True
        self._buffer += data
        if len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > self.cap:
                raise TransferError(f"a message of {size} bytes is above the {self.cap}-byte cap")

    def frames(self) -> Iterator[tuple[bytes, list[int]]]:
        """The frames complete so far."""
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                return
            data = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]
            fds, self._fds = self._fds, []
            yield data, fds

    def close(self) -> None:
        close_fds(self._fds)
        self._fds = []


# -- removing folders (host and runner alike) ----------------------------------------------------


def empty_tree(path: str, deadline: float | None = None, remove_top: bool = False) -> None:
    """Remove everything under ``path`` (and ``path`` itself with ``remove_top``).

    Any depth and any path length: it descends by file descriptor, one folder open at a time
    (``..`` to climb back), so neither ``PATH_MAX`` nor the open-files limit nor the recursion
    limit applies. A folder's mode is set back to 0700 before it is entered, so what a plugin
    made unreadable still goes (its owner may always chmod). Links are removed, not followed.
    Meant for trees nothing else writes to meanwhile (a run folder, a sandbox's scratch after
    its processes were killed). ``TimeoutError`` past ``deadline`` (``time.monotonic``).
    """
    import time

    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if remove_top:
            os.chmod(path, 0o700)
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    names: list[str] = []  # the folders entered below ``path``, outermost first
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"emptying {path} took too long")
            folder = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folder = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if folder is not None:
                os.chmod(folder, 0o700, dir_fd=fd)
                inner = os.open(folder, flags, dir_fd=fd)
                os.close(fd)
                fd = inner
                names.append(folder)
                continue
            if not names:
                break
            outer = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = outer
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    if remove_top:
        os.rmdir(path)
