"""Document 附件: a file attached to the water user or one of its records, stored by sha256."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime

if TYPE_CHECKING:
    from registry.models.water_user import WaterUser

DOCUMENT_KINDS = ("permit_scan", "calibration_certificate", "balance_report", "inspection_photo",
                  "signature", "other")


class Document(Record, Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size_non_negative"),
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
        CheckConstraint("image_state IN ('pending', 'ready', 'failed')", name="image_state"),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    # The record the file belongs to, e.g. ("calibration", 12); none = the file as a whole.
    record_type: Mapped[str | None] = mapped_column(String(30))
    record_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # Staff uploads are accepted at once; an enterprise's wait for review like its readings.
    status: Mapped[str] = mapped_column(String(10), default="accepted")
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An uploaded photo or scan is re-encoded by a job of the queue (services/photos.py), not in
    # the request: until then ``image_state`` is pending, ``sha256`` names the upload as received,
    # kept outside the served store (storage.original_path), and nothing serves it. ready: ``sha256``
    # names the re-encoded copy; failed: ``image_error`` says why (a PhotoError rule). None: no
    # image to prepare (a PDF, or an image re-encoded in the request before the queue did it).
    image_state: Mapped[str | None] = mapped_column(String(10))
    image_error: Mapped[str | None] = mapped_column(Text)
    original_sha256: Mapped[str | None] = mapped_column(String(64))

    water_user: Mapped[WaterUser] = relationship(back_populates="documents")
