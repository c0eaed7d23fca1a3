"""/work-queue: what is due or overdue, most urgent first, linking to the record to fix."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from registry import access, clock
from registry.extensions import db
from registry.services import warnings, work_queue
from registry.presentation import paging
from registry.web.choices import division_choices

bp = Blueprint("queue", __name__)


@bp.route("/work-queue")
@login_required
@access.allows("work_queue.view")
def index():
    filters = work_queue.QueueFilters(**{k: (request.args.get(k) or "")[:20]
                                         for k in ("division", "kind", "inspector", "status")})
    today = clock.today()
    page = paging.paginate(db.session, work_queue.queue(db.session, current_user, filters, today),
                           page=request.args.get("page", 1, type=int), per_page=current_app.config["PER_PAGE"])
    return render_template("queue/index.html", page=page, filters=filters, kinds=work_queue.DUE_KINDS,
                           anchors=work_queue.ANCHORS, divisions=division_choices(),
                           inspectors=work_queue.inspectors(db.session), today=today,
                           may_inspect=access.can(current_user, "inspection.edit"),
                           open_warnings=warnings.live_count(db.session, current_user))
