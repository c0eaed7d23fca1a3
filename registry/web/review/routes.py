"""/review: staff accept or reject what enterprises submitted (readings, documents)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from registry import access
from registry.extensions import db
from registry.models import Document, Reading, WaterUser
from registry.services import ValidationError, portal
from registry.services.plausibility_context import flag_messages
from registry.web.portal.forms import ReviewForm

bp = Blueprint("review", __name__)
MODELS = {"readings": Reading, "documents": Document}


def _pending(model):
    """Waiting submissions; readings also the flagged ones (implausible, from any channel)."""
    stmt = access.scoped(select(model, WaterUser).join(WaterUser, WaterUser.id == model.water_user_id), current_user)
    waiting = model.status.in_(("pending", "flagged")) if model is Reading else model.status == "pending"
    return db.session.execute(stmt.where(waiting, model.closed_at.is_(None))
                              .order_by(model.id).limit(200)).all()


@bp.route("/review")
@login_required
@access.allows("reading.review")
def index():
    readings = _pending(Reading)
    return render_template("review/index.html", readings=readings, documents=_pending(Document),
                           reasons={r.id: flag_messages(r.flags) for r, _ in readings}, form=ReviewForm())


@bp.route("/review/<kind>/<int:item_id>", methods=["POST"])
@login_required
def decide(kind: str, item_id: int):
    model = MODELS.get(kind)
    if model is None:
        abort(404)
    obj = access.get_record(current_user, model, item_id)
    access.require(current_user, "reading.review" if model is Reading else "document.review")
    form = ReviewForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        portal.review(db.session, current_user, obj, form.decision.data, form.reason.data)
    except ValidationError as err:
        for message in err.errors.values():
            flash(str(message), "info")
    else:
        flash(_("Accepted.") if obj.status == "accepted" else _("Rejected; the enterprise sees your reason."), "success")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("review.index"))
