"""The dashboard: what each role needs first."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from registry import access, clock
from registry.extensions import db
from registry.models import AuditEvent, Permit, WaterUser
from registry.services import tax, dashboard, rules_versions
from registry.web.main import figures

bp = Blueprint("main", __name__)


@bp.route("/favicon.ico")
def favicon():
    """The bureau's icon where every browser looks for it (public, like the sign-in page)."""
    from flask import current_app, send_from_directory

    return send_from_directory(current_app.static_folder, "img/favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)


@bp.route("/")
@login_required
def index():
    if access.can(current_user, "portal.use"):  # an enterprise's first page is its portal
        return redirect(url_for("portal.home"))
    today = clock.today()
    window = today + timedelta(days=rules_versions.current(db.session).permit.renewal_window_days)
    scope = access.water_user_filter(current_user)
    by_status = dict(db.session.execute(
        select(WaterUser.status, func.count()).where(scope).group_by(WaterUser.status)).all())
    expiring = db.session.execute(
        select(Permit, WaterUser).join(WaterUser, Permit.water_user_id == WaterUser.id)
        .where(scope, Permit.closed_at.is_(None), Permit.revoked_on.is_(None), Permit.renewed_by == None,  # noqa: E711
               Permit.valid_to >= today - timedelta(days=90), Permit.valid_to <= window,
               WaterUser.status == "active")
        .order_by(Permit.valid_to).limit(20)).all()
    recent = db.session.execute(
        select(AuditEvent, WaterUser).join(WaterUser, AuditEvent.water_user_id == WaterUser.id)
        .where(scope).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(15)).all()
    return render_template("main/index.html", by_status=by_status, expiring=expiring, recent=recent, today=today,
                           dash=dashboard.summary(db.session, current_user, today), figures=figures,
                           verified_year=tax.year_totals(db.session, current_user, today.year))
