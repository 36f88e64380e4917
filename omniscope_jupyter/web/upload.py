"""Uploads: a multipart body streamed chunk by chunk to disk under a cap, after auth.

Tornado feeds request body chunks as they arrive (``stream_request_body``), so an upload never
sits whole in memory and an oversized one is cut off as soon as it crosses the cap. Parsing is
python-multipart's (the parser behind Starlette); ``MultipartUpload`` only routes parts, and
``StreamingUploadHandler`` is the base of the install and publish routes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from tornado import web
from tornado.http1connection import HTTP1Connection

from ..errors import InvalidPackage, InvalidRequest, PluginError, TooLarge
from .base import AUTH_RESOURCE, PluginsAPIHandler


class MultipartUpload:
    """Streams the part named ``file_field`` to ``dest``; keeps small text fields in memory."""

    MAX_FIELD_BYTES = 64 * 1024

    def __init__(self, content_type: str, dest: Path, max_bytes: int, file_field: str = "file"):
        ctype, options = parse_options_header(content_type or "")
        if ctype != b"multipart/form-data" or b"boundary" not in options:
            raise InvalidPackage(
                "Upload the package as multipart/form-data with the archive in the field "
                f"'{file_field}' (curl -F \"{file_field}=@my_plugin.tar.gz\")."
            )
        self.dest = dest
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.received = 0
        self._file: IO[bytes] | None = None
        self._field_buf: bytearray | None = None
        self._part_name: str | None = None
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._parser = MultipartParser(
            options[b"boundary"],
            callbacks={
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._header_end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        """Feed the next body chunk; raises ``TooLarge`` past the cap."""
        self.received += len(chunk)
        if self.received > self.max_bytes:
            self.close()
            raise TooLarge(f"The upload exceeds the {self.max_bytes}-byte limit.")
        try:
            self._parser.write(chunk)
        except MultipartParseError as e:
            self.close()
            raise InvalidPackage(f"The multipart upload is malformed: {e}.") from e
        except BaseException:
            self.close()
            raise

    def finish(self) -> Path:
        """Return the path of the received file, or raise when there was none."""
        try:
            self._parser.finalize()
        except MultipartParseError as e:
            raise InvalidPackage(f"The multipart upload is malformed: {e}.") from e
        finally:
            self.close()
        if self.filename is None:
            raise InvalidPackage(
                f"No file in the upload: send the archive in the multipart field "
                f"'{self.file_field}'."
            )
        return self.dest

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # parser callbacks

    def _part_begin(self) -> None:
        self._headers = {}
        self._part_name = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""
        if self._header_field_is_disposition():
            _, opts = parse_options_header(self._headers[b"content-disposition"])
            self._part_name = opts.get(b"name", b"").decode("utf-8", "replace")
            if self._part_name == self.file_field:
                if self.filename is not None:
                    raise InvalidPackage(f"Send exactly one file in '{self.file_field}'.")
                self.filename = opts.get(b"filename", b"upload").decode("utf-8", "replace")
                self._file = self.dest.open("wb")
            else:
                self._field_buf = bytearray()

    def _header_field_is_disposition(self) -> bool:
        return b"content-disposition" in self._headers and self._part_name is None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
        elif self._field_buf is not None:
            self._field_buf += data[start:end]
            if len(self._field_buf) > self.MAX_FIELD_BYTES:
                raise InvalidPackage(f"Form field {self._part_name!r} is too long.")

    def _part_end(self) -> None:
        if self._file is not None:
            self.close()
        elif self._field_buf is not None and self._part_name:
            self.fields[self._part_name] = self._field_buf.decode("utf-8", "replace")
        self._field_buf = None


@web.stream_request_body
class StreamingUploadHandler(PluginsAPIHandler):
    """Streams a multipart ``file`` to a staging folder under the upload cap, after auth.

    Anonymous, unauthorized and announced-too-large uploads are refused in ``prepare``, before
    a byte of body is received. Subclasses call ``uploaded_file()`` in ``post``; the staging
    folder is removed when the request finishes.
    """

    _upload: MultipartUpload | None = None
    _upload_error: PluginError | None = None
    _staging: Path | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method != "POST":
            return
        if not self.current_user:
            raise web.HTTPError(403)
        if not await self.is_authorized_for("write", AUTH_RESOURCE):
            raise web.HTTPError(403, f"User is not authorized to write on {AUTH_RESOURCE}.")
        cap = self.settings["omniscope_max_upload_bytes"]
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap + 64 * 1024:
            raise web.HTTPError(413, f"The upload exceeds the {cap}-byte limit.")
        connection = self.request.connection
        assert isinstance(connection, HTTP1Connection)  # streaming bodies exist on HTTP/1 only
        connection.set_max_body_size(cap + 64 * 1024)
        self._staging = self.system.new_staging_dir()
        self._upload = MultipartUpload(
            self.request.headers.get("Content-Type", ""), self._staging / "upload.tar", cap
        )

    def data_received(self, chunk: bytes) -> None:
        if self._upload is None or self._upload_error is not None:
            return
        try:
            self._upload.feed(chunk)
        except PluginError as e:
            self._upload_error = e

    def uploaded_file(self) -> Path:
        """The received archive; raises the upload's error (413, 400) if it failed."""
        assert self._upload is not None
        if self._upload_error is not None:
            raise self._upload_error
        return self._upload.finish()

    def upload_flag(self, name: str) -> bool:
        """A true/false field of the form (or query); anything else is a 400."""
        value = self.upload_field(name, "false").strip().lower()
        if value in {"1", "true", "yes"}:
            return True
        if value in {"", "0", "false", "no"}:
            return False
        raise InvalidRequest(f"{name} must be true or false, not {value[:40]!r}.")

    def upload_field(self, name: str, default: str = "") -> str:
        """A small text field of the multipart form, else the query argument."""
        assert self._upload is not None
        return self._upload.fields.get(name, self.get_query_argument(name, default))

    def on_finish(self) -> None:
        self._discard_upload()

    def on_connection_close(self) -> None:
        # A client that hangs up mid-body never reaches on_finish: clean up here too.
        self._discard_upload()
        super().on_connection_close()

    def _discard_upload(self) -> None:
        if self._upload is not None:
            self._upload.close()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
