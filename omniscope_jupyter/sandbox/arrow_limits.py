"""How large an Arrow IPC stream would be once decoded, read from its headers without decoding.

A plugin's ``data.arrow`` is capped on disk, but Arrow can compress (33 KB of zstd decode to
gigabytes) and a column's length need not be backed by bytes (a null or run-end-encoded column
of a billion rows is a few bytes). Decoding first and measuring after would already have spent
the memory, so :func:`check_stream` walks the stream message by message and reads, from each
record batch's flatbuffer header, the length of every field node (values) and the size of
every body buffer after decompression (the 8-byte prefix Arrow writes before each compressed
buffer). Nothing is decompressed or converted. Host-side only: the container is not trusted to
do this check, and its input comes from the host.

Buffers are not all a result costs: pandas gives every string a Python object (about 50 bytes
beyond its text), a boolean or a null a pointer, a list cell an array object, a struct cell a
dict. So each value also counts what its type occupies once decoded, read from the schema
message (parsed here too: the field tree in the order record batches list their nodes). A
dictionary-encoded column decodes to a pandas Categorical: its indices plus the dictionary's
values, counted once (the JSON answer, where every cell is written out, is capped on its own by
the execution service).
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
#: Bytes a value takes in pandas beyond its Arrow buffers, by ``Schema.fbs`` type (the union
#: tag): a pointer for every object column, plus the object itself where there is one.
_POINTER = 8
_VALUE_COST = {
    1: _POINTER,  # Null: None pointers
    4: _POINTER + 50, 5: _POINTER + 50, 15: _POINTER + 50,  # Binary, Utf8, FixedSizeBinary
    19: _POINTER + 50, 20: _POINTER + 50, 23: _POINTER + 50, 24: _POINTER + 50,  # large, views
    6: _POINTER,  # Bool: object column when nulls are present
    7: _POINTER + 104,  # Decimal objects
    12: _POINTER + 112, 16: _POINTER + 112, 17: _POINTER + 112,  # List, FixedSizeList, Map
    21: _POINTER + 112, 25: _POINTER + 112, 26: _POINTER + 112,  # large and view lists
    13: _POINTER + 240,  # Struct: a dict per row
    14: _POINTER + 16,  # Union
    22: _POINTER,  # RunEndEncoded: every logical value is expanded
}
#: Any other (fixed-width) type: a value widened to 8 bytes (an int with nulls becomes float64).
_DEFAULT_COST = 8


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

    def tables(self, index: int) -> list[_Table]:
        """A vector of tables (a schema's fields, a field's children)."""
        at = self._field(index)
        if at is None:
            return []
        vector = at + _unpack("<I", self.buf, at)
        count = _unpack("<I", self.buf, vector)
        if count * 4 > len(self.buf) - vector - 4:
            raise TransferError("Arrow schema header is truncated")
        slots = (vector + 4 + 4 * i for i in range(count))
        return [_Table(self.buf, slot + _unpack("<I", self.buf, slot)) for slot in slots]

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


def _value_costs(field: _Table, dictionaries: dict[int, list[int]], costs: list[int]) -> None:
    """Append the per-value cost of ``field``'s nodes (pre-order), noting its dictionary."""
    encoding = field.table(4)
    if encoding is not None:
        dictionary_id = encoding.scalar(0, "<q")
        index = encoding.table(1)
        width = index.scalar(0, "<i", 32) // 8 if index is not None else 4
        costs.append(max(1, width))  # the Categorical's codes
        values: list[int] = []
        _plain_costs(field, dictionaries, values)
        dictionaries[dictionary_id] = values
        return
    _plain_costs(field, dictionaries, costs)


def _plain_costs(field: _Table, dictionaries: dict[int, list[int]], costs: list[int]) -> None:
    costs.append(_VALUE_COST.get(field.scalar(2, "<B"), _DEFAULT_COST))
    for child in field.tables(5):
        _value_costs(child, dictionaries, costs)


def _batch_size(
    batch: _Table, body: memoryview, size: StreamSize, costs: list[int] | None = None
) -> None:
    """Add one ``RecordBatch`` header's values and decoded bytes to ``size``."""
    for position, (length, _nulls) in enumerate(batch.structs(1)):
        if length < 0:
            raise TransferError("Arrow field node has a negative length")
        size.cells += length
        cost = costs[position] if costs is not None and position < len(costs) else _DEFAULT_COST
        size.decoded_bytes += length * cost
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
    costs: list[int] = []
    dictionaries: dict[int, list[int]] = {}
    try:
        reader = pa.ipc.MessageReader.open_stream(pa.BufferReader(payload))
        for message in reader:
            meta = message.metadata.to_pybytes()
            root = _Table(meta, _unpack("<I", meta, 0))
            kind = root.scalar(1, "<B")
            header = root.table(2)
            if kind == _SCHEMA:
                if header is not None:
                    costs, dictionaries = [], {}
                    for field in header.tables(1):
                        _value_costs(field, dictionaries, costs)
                continue
            if kind not in (_RECORD_BATCH, _DICTIONARY_BATCH) or header is None:
                raise TransferError(f"unexpected Arrow message ({message.type})")
            batch = header if kind == _RECORD_BATCH else header.table(1)
            if batch is None:
                raise TransferError("Arrow dictionary batch without data")
            layout = costs if kind == _RECORD_BATCH else dictionaries.get(header.scalar(0, "<q"))
            body = memoryview(message.body) if message.body is not None else memoryview(b"")
            _batch_size(batch, body, size, layout)
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
