"""Reading an upload form as it arrives: each file goes straight to disk, into the fresh upload
folder the import service gave (`Upload.create` makes every name safe there), and the whole
request is refused past a size limit without ever being held in memory.

Starlette's `request.form()` would spool the files to temporary files first and keep each
field in memory; this reads `request.stream()` through python-multipart's streaming parser
instead. The CSRF middleware has checked the form's token on the way in (portal.web.csrf reads
a multipart body only as far as that field, and lets the rest through up to what
`allow_upload` allows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from portal.i18n import gettext as _
from portal.panel.importer import Upload
from portal.web.csrf import allow_upload

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # one request: every file and the form around them
MAX_FILES = 100
MAX_FIELD_BYTES = 1024  # the form's other fields are a token and two checkboxes


class UploadRefused(Exception):
    """The request is not an acceptable upload; `str(exc)` says why, in Polish."""


class TooLarge(UploadRefused):
    pass


def too_large_message(limit: int) -> str:
    return _(
        "Wysyłka jest większa niż %(mb)d MB i nie została przyjęta. Spakuj pliki do ZIP albo "
        "wyślij eksport w częściach (np. po jednej wspólnocie)."
    ) % {"mb": limit // (1024 * 1024)}


def declared_too_large(request: Request, limit: int) -> bool:
    """Whether the request says (Content-Length) it is larger than `limit`: refused before a
    byte of it is read."""
    try:
        return int(request.headers.get("content-length", "0")) > limit
    except ValueError:
        return False


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # names as kept in the upload
    size: int = 0  # bytes of the request


class _Form:
    """python-multipart's callbacks: a part named `file_field` with a file name is written to
    a new file of the upload; any other part is a short text field."""

    def __init__(self, upload: Upload, file_field: str) -> None:
        self.upload = upload
        self.file_field = file_field.encode()
        self.received = Received()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.disposition = b""
        self.out: BinaryIO | None = None
        self.name: str | None = None
        self.value = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self.header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.disposition, self.name, self.out = b"", None, None
        self.value.clear()

    def header_end(self) -> None:
        if bytes(self.header_field).lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"")
        filename = options.get(b"filename")
        if name == self.file_field and filename is not None:
            if not filename:  # the file field left empty
                return
            if len(self.received.files) >= MAX_FILES:
                raise UploadRefused(_("Za dużo plików naraz (najwyżej %(n)d).") % {"n": MAX_FILES})
            self.out = self.upload.create(filename.decode("utf-8", "replace"))
            self.received.files.append(self.upload.names[-1])
        else:
            self.name = name.decode("utf-8", "replace")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.out.write(data[start:end])
        elif self.name is not None:
            self.value.extend(data[start:end])
            if len(self.value) > MAX_FIELD_BYTES:
                raise UploadRefused(_("Ten formularz nie wygląda na formularz wysyłki."))

    def part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        elif self.name is not None:
            self.received.fields.setdefault(self.name, self.value.decode("utf-8", "replace"))
        self.name = None

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


async def receive_files(
    request: Request, upload: Upload, *, field_name: str = "bundle", limit: int = MAX_UPLOAD_BYTES
) -> Received:
    """Write the files of a multipart/form-data request's `field_name` into `upload`, and
    return the other fields. Raises TooLarge past `limit` bytes (whatever was written so far
    is left for the caller to discard), UploadRefused for what is not such a form."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRefused(_("Ten formularz nie wygląda na formularz wysyłki."))
    # The check below refuses past `limit` with its message; the CSRF middleware's cut-off
    # (a disconnect) stays behind it as a backstop.
    allow_upload(request, 2 * limit)
    form = _Form(upload, field_name)
    parser = MultipartParser(boundary, form.callbacks())
    try:
        async for chunk in request.stream():
            form.received.size += len(chunk)
            if form.received.size > limit:
                raise TooLarge(too_large_message(limit))
            try:
                parser.write(chunk)
            except (UploadRefused, OSError):
                raise
            except Exception as exc:  # python-multipart: not well-formed
                incomplete = _("Wysyłka dotarła niekompletna; spróbuj jeszcze raz.")
                raise UploadRefused(incomplete) from exc
        parser.finalize()
    finally:
        form.close()
    return form.received
