"""The request class of the app: an oversized upload in a page's form is answered by the form itself
(the file field named with its limit, every other field kept), never by a bare 413 page (issue 18).

A multipart form posted to a page may carry a body up to ``UPLOAD_PARSE_FACTOR`` times the largest
upload the app takes; each file of it is kept up to one byte past that largest size and the rest is
read and dropped, so the form parses, the service sees a file "larger than N MB" and refuses it by its
field. Bodies beyond that, and everything sent to the API, keep ``MAX_CONTENT_LENGTH`` (413).
"""
from __future__ import annotations

import tempfile

from flask import Request, current_app

UPLOAD_PARSE_FACTOR = 8


class _CappedFile:
    """A spooled temporary file that keeps the first ``keep`` bytes written and drops the rest."""

    def __init__(self, keep: int) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=512 * 1024)
        self._left = keep

    def write(self, data) -> int:
        if self._left > 0:
            self._file.write(data[:self._left])
        self._left -= len(data)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


def _largest_upload() -> int:
    config = current_app.config
    return max(int(config.get("UPLOAD_MAX_BYTES") or 0), int(config.get("IMPORT_MAX_BYTES") or 0),
               int(config.get("PHOTO_MAX_BYTES") or 0))


class RegistryRequest(Request):
    def _page_upload(self) -> bool:
        return (self.method == "POST" and self.mimetype == "multipart/form-data"
                and not self.path.startswith("/api/"))

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        configured = super().max_content_length
        if configured is None or not self._page_upload():
            return configured
        return max(configured, _largest_upload() * UPLOAD_PARSE_FACTOR)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        if not self._page_upload():
            return super()._get_file_stream(total_content_length, content_type, filename, content_length)
        return _CappedFile(_largest_upload() + 1)
