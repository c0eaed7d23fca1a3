"""PDF output: the compliance certificate 合规证书 and the file dossier 档案, drawn with reportlab.

Certificates are deterministic (reportlab's invariant mode, a fixed QR mask, no timestamps), so
the same certificate always renders to the same bytes; the issued bytes are kept all the same
(``services.certificates``), and their sha256 is on the row.
"""
from __future__ import annotations

from dataclasses import dataclass

from reportlab import rl_config

# Binary (Flate only) streams: ASCII85 on top makes files 25 % larger and costs a pure-Python
# pass over every stream; nothing here travels over a 7-bit channel.
rl_config.useA85 = 0

AUTHORITY = "义乌市水务局"
AUTHORITY_EN = "Yiwu Water Bureau"


@dataclass(frozen=True)
class PdfSettings:
    """What the output depends on besides the record: where the QR points, which font draws Chinese."""

    public_url: str = "http://127.0.0.1:5000"
    font_path: str | None = None  # a TTF to embed; None: reportlab's built-in CID font STSong-Light
    authority: str = AUTHORITY
    authority_en: str = AUTHORITY_EN

    @classmethod
    def from_config(cls, config) -> PdfSettings:
        return cls(public_url=str(config.get("PUBLIC_URL") or cls.public_url).rstrip("/"),
                   font_path=config.get("CERTIFICATE_FONT") or None,
                   authority=config.get("BUREAU_NAME") or AUTHORITY,
                   authority_en=config.get("BUREAU_NAME_EN") or AUTHORITY_EN)
