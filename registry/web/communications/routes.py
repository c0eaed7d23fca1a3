"""Communications: the bureau's outbox (e-mails not sent, failed ones, letters due), the batch of
letters to print, bounced e-mails, and the wording of reminders (``wording``).

Routes only parse and render; ``services.communications`` and ``services.messages`` authorise,
check, audit and commit. Pages for staff answer 404 to enterprises; bureau-only actions answer
403 to inspectors for files in their scope, 404 outside it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access, clock
from registry.extensions import db
from registry.models import WaterUser
from registry.pdf import PdfSettings
from registry.pdf import letter as letter_pdf
from registry.services import ValidationError, communications
from registry.services.checks import database_id
from registry.services.mailer import MailSettings
from registry.presentation import paging
from registry.web.communications.forms import BounceForm, ConfirmForm

bp = Blueprint("communications", __name__)


@bp.app_template_global()
def communications_of(wu) -> list:
    """The file's communications history, for the one-file page."""
    return communications.history(db.session, current_user, wu.id)


@bp.app_template_global()
def may_manage_letters() -> bool:
    return access.can(current_user, "letter.manage")


@bp.route("/communications/")
@login_required
@access.allows("communication.read")
def outbox():
    view = request.args.get("view", "queued")
    view = view if view in communications.OUTBOX_VIEWS else "queued"
    page = paging.paginate(db.session, communications.outbox(current_user, view),
                           page=request.args.get("page", 1, type=int), per_page=current_app.config["PER_PAGE"])
    mail = MailSettings.from_config(current_app.config)
    return render_template("communications/outbox.html", page=page, view=view, mail=mail, form=ConfirmForm(),
                           counts=communications.counts(db.session, current_user))


def _ids() -> list[int] | None:
    raw = request.values.getlist("ids")
    if not raw:
        return None
    return [i for i in map(database_id, raw) if i is not None][:5000]


@bp.route("/communications/letters.pdf")
@login_required
@access.allows("letter.manage")
def letters_pdf():
    """The letters due (or the chosen ones) as one PDF to print; marking them posted is a separate step."""
    letters = communications.letters_due(db.session, current_user, _ids())
    if not letters:
        flash(_("No letter is due: nothing to print."), "info")
        return redirect(url_for("communications.outbox", view="letters"))
    users = {w.id: w for w in db.session.scalars(db.select(WaterUser).where(
        WaterUser.id.in_({c.water_user_id for c in letters})))}
    root = Path(current_app.config["BATCH_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="letters-", suffix=".pdf", dir=root)
    os.close(handle)
    today = clock.today()
    try:
        letter_pdf.write_batch(Path(name), (communications.letter_data(c, users[c.water_user_id], today)
                                            for c in letters), PdfSettings.from_config(current_app.config))
        stream = open(name, "rb")  # noqa: SIM115  (closed by the response)
    finally:  # the open handle keeps the data until it is sent; nothing is left on disk
        for leftover in (name, f"{name}.part"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return send_file(stream, mimetype="application/pdf", as_attachment=True,
                     download_name=f"letters-{today.isoformat()}.pdf")


@bp.route("/communications/letters/posted", methods=["POST"])
@login_required
@access.allows("letter.manage")
def letters_posted():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        count = communications.mark_posted(db.session, current_user, _ids() or [])
    except ValidationError as err:
        flash(str(next(iter(err.errors.values()))), "info")
    else:
        flash(_("%(n)d letters recorded as posted today.", n=count), "success")
    return redirect(url_for("communications.outbox", view="letters"))


@bp.route("/water-users/<int:water_user_id>/communications/<int:communication_id>/bounced",
          methods=["GET", "POST"])
@login_required
def bounced(water_user_id: int, communication_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    comm = communications.get(db.session, current_user, wu.id, communication_id)
    access.require(current_user, "letter.manage")
    form, status, summary = BounceForm(), 200, None
    if form.validate_on_submit():
        try:
            communications.mark_bounced(db.session, current_user, comm, form.note.data)
        except ValidationError as err:
            summary, status = err.errors, 400
        else:
            flash(_("The e-mail is marked as bounced; a letter is due."), "success")
            return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor="communications"))
    elif request.method == "POST":
        status = 400
    return render_template("communications/bounced.html", form=form, wu=wu, comm=comm, summary=summary), status


from registry.web.communications import wording  # noqa: E402,F401  (routes on this blueprint)
