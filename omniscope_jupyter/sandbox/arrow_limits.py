"""How large an Arrow IPC stream would be once decoded, read from its headers without decoding.

A plugin's ``data.arrow`` is capped on disk, but Arrow can compress (33 KB of zstd decode to
gigabytes) and a column's length need not be backed by bytes (a null or run-end-encoded column
of a billion rows is a few bytes). Decoding first and measuring after would already have spent
the memory, so :func:`check_stream` walks the stream message by message and reads, from each
record batch's flatbuffer header, the length of every field node (values) and the size of
every body buffer after decompression (the 8-byte prefix Arrow writes before each compressed
buffer). Nothing is decompressed or converted. Host-side only: the container is not trusted to
do this check, and its input comes from the host.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pyarrow as pa

from .transfer import TransferError

#: ``MessageHeader`` union values of Arrow's ``Message.fbs``.
_SCHEMA, _DICTIONARY_BATCH, _RECORD_BATCH = 1, 2, 3
#: ``FieldNode`` and ``Buffer`` are both structs of two int64.
_STRUCT_SIZE = 16


@dataclass
class StreamSize:
    """What decoding the stream would produce: bytes of buffers and values (cells)."""

    decoded_bytes: int = 0
    cells: int = 0


class _Table:
    """A flatbuffer table: its fields by index, bounds-checked (the bytes are hostile)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - _unpack("<i", buf, pos)
        self.vtable_size = _unpack("<H", buf, self.vtable)

    def _field(self, index: int) -> int | None:
        slot = 4 + 2 * index
        if slot + 2 > self.vtable_size:
            return None
        rel = _unpack("<H", self.buf, self.vtable + slot)
        return self.pos + rel if rel else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        return default if at is None else _unpack(fmt, self.buf, at)

    def table(self, index: int) -> _Table | None:
        at = self._field(index)
        return None if at is None else _Table(self.buf, at + _unpack("<I", self.buf, at))

    def structs(self, index: int) -> list[tuple[int, int]]:
        """A vector of two-int64 structs (``FieldNode`` or ``Buffer``)."""
        at = self._field(index)
        if at is None:
            return []
        vector = at + _unpack("<I", self.buf, at)
        count = _unpack("<I", self.buf, vector)
        if count * _STRUCT_SIZE > len(self.buf) - vector - 4:
            raise TransferError("Arrow message header is truncated")
        return [struct.unpack_from("<qq", self.buf, vector + 4 + i * _STRUCT_SIZE) for i in range(count)]


def _unpack(fmt: str, buf: bytes | memoryview, at: int) -> int:
    if at < 0:
        raise TransferError("Arrow message header is malformed")
    try:
        return int(struct.unpack_from(fmt, buf, at)[0])
    except struct.error as exc:
        raise TransferError("Arrow message header is truncated") from exc


def _batch_size(batch: _Table, body: memoryview, size: StreamSize) -> None:
    """Add one ``RecordBatch`` header's values and decoded buffer bytes to ``size``."""
    for length, _nulls in batch.structs(1):
        if length < 0:
            raise TransferError("Arrow field node has a negative length")
        size.cells += length
    compressed = batch.table(3) is not None
    for offset, length in batch.structs(2):
        if offset < 0 or length < 0 or offset + length > len(body):
            raise TransferError("Arrow buffer lies outside its message body")
        if not compressed or length == 0:
            size.decoded_bytes += length
            continue
        if length < 8:
            raise TransferError("compressed Arrow buffer has no length prefix")
        # Each compressed buffer starts with its uncompressed length; -1: stored uncompressed.
        plain = _unpack("<q", body, offset)
        size.decoded_bytes += length - 8 if plain == -1 else plain
        if plain < -1:
            raise TransferError("compressed Arrow buffer has a negative length")


def check_stream(payload: bytes, *, max_bytes: int, max_cells: int) -> StreamSize:
    """Measure the decoded size of an IPC stream; ``TransferError`` past either cap.

    Only schema, dictionary and record batch messages are accepted (no tensors).
    """
    size = StreamSize()
    try:
        reader = pa.ipc.MessageReader.open_stream(pa.BufferReader(payload))
        for message in reader:
            meta = message.metadata.to_pybytes()
            root = _Table(meta, _unpack("<I", meta, 0))
            kind = root.scalar(1, "<B")
            header = root.table(2)
            if kind == _SCHEMA:
                continue
            if kind not in (_RECORD_BATCH, _DICTIONARY_BATCH) or header is None:
                raise TransferError(f"unexpected Arrow message ({message.type})")
            batch = header if kind == _RECORD_BATCH else header.table(1)
            if batch is None:
                raise TransferError("Arrow dictionary batch without data")
            body = memoryview(message.body) if message.body is not None else memoryview(b"")
            _batch_size(batch, body, size)
            if size.decoded_bytes > max_bytes:
                raise TransferError(
                    f"data.arrow would decode to more than {max_bytes} bytes "
                    "(the cap on returned data)"
                )
            if size.cells > max_cells:
                raise TransferError(
                    f"data.arrow holds more than {max_cells} values (the cap on returned data)"
                )
    except pa.ArrowException as exc:
        raise TransferError(f"not a valid Arrow IPC stream: {exc}") from exc
    return size
