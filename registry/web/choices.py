"""The choices of the selects several pages share: the city's divisions and the industries
(GB/T 4754), each shown with its code, in the page's language."""
from __future__ import annotations

from flask_babel import get_locale

from registry.domain.reference import INDUSTRIES
from registry.extensions import db
from registry.i18n import division_name
from registry.models import Division


def division_choices() -> list[tuple[str, str]]:
    divisions = db.session.execute(db.select(Division).order_by(Division.code)).scalars()
    return [(d.code, f"{d.code} {division_name(d)}") for d in divisions]


def industry_choices() -> list[tuple[str, str]]:
    english = str(get_locale()).startswith("en")
    return [(i.code, f"{i.code} {i.name_en if english else i.name_zh}") for i in INDUSTRIES]
