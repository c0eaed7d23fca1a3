"""Bureau administration: the versioned rules (list, read, publish a new version)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Optional

from registry import access, clock, queue
from registry.extensions import db
from registry.services import ValidationError, rules_versions
from registry.web import binding

bp = Blueprint("admin", __name__, url_prefix="/admin")


class PublishForm(FlaskForm):
    document = TextAreaField(_l("Rules document (JSON)"), [Optional()], render_kw={"rows": 24, "spellcheck": "false",
                                                                                  "class": "font-monospace"})
    note = TextAreaField(_l("What changed and why"), [Optional()], render_kw={"rows": 3})


@bp.route("/rules")
@login_required
@access.allows("rules.read")
def rules():
    current = rules_versions.current(db.session)
    return render_template("admin/rules.html", versions=rules_versions.all_versions(db.session), current=current)


@bp.route("/rules/<version>")
@login_required
@access.allows("rules.read")
def rules_version(version: str):
    found = rules_versions.by_version(db.session, version[:30])
    if found is None:
        abort(404)
    return render_template("admin/rules_version.html", rules=found,
                           document=json.dumps(found.to_dict(), ensure_ascii=False, indent=2))


@bp.route("/rules/new", methods=["GET", "POST"])
@login_required
@access.allows("rules.publish")
def publish():
    form = PublishForm()
    status, summary = 200, None
    if not form.is_submitted():
        form.document.data = json.dumps(rules_versions.current(db.session).to_dict(), ensure_ascii=False, indent=2)
    if form.validate_on_submit():
        try:
            row = rules_versions.publish(db.session, current_user, form.document.data, form.note.data)
        except ValidationError as err:
            summary, status = binding.bind_errors(form, err.errors), 400
        else:
            # Pages, forms and certificates follow the new version at once (rules_versions.current);
            # the stored scores and due items are re-computed under it by a background job now.
            queue.submit("recompute", current_user, {"day": clock.today().isoformat()})
            flash(_("Rules %(v)s are published and in force: every file is being re-evaluated under them "
                    "(see Jobs).", v=row.version), "success")
            return redirect(url_for("admin.rules"))
    elif form.is_submitted():
        status = 400
    return render_template("admin/publish.html", form=form, summary=summary), status


from registry.web.admin import accounts  # noqa: E402,F401  (registers the account routes on bp)


@bp.route("/jobs")
@login_required
@access.allows("jobs.view")
def jobs_index():
    """The task queue's recent jobs: what each does, for whom, how far it got, how it ended."""
    from registry.services import jobs

    from registry.models import Account

    recent = jobs.recent(db.session)
    owners = {a.id: a for a in db.session.scalars(db.select(Account).where(
        Account.id.in_({job.owner_id for job in recent if job.owner_id})))}
    return render_template("admin/jobs.html", jobs=[(job, jobs.view(job), owners.get(job.owner_id)) for job in recent],
                           max_attempts=jobs.MAX_ATTEMPTS)
