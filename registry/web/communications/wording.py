"""The wording of reminders (提醒模板): the bureau edits each topic in Chinese and English and
previews it, filled in for a made-up file, before saving."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access
from registry.extensions import db
from registry.services import StaleEdit, ValidationError, messages
from registry.services.reminders import Settings
from registry.web import binding
from registry.web.communications.forms import TemplateForm
from registry.web.communications.routes import bp


@bp.route("/communications/templates")
@login_required
@access.allows("message_template.edit")
def templates():
    return render_template("communications/templates.html", topics=messages.TOPICS, languages=messages.LANGUAGES,
                           current=messages.current(db.session), stored=messages.stored(db.session),
                           defaults=messages.DEFAULTS)


def _preview(language: str, subject: str, body: str) -> dict:
    settings = Settings.from_config(current_app.config)
    bureau = settings.bureau_en if language == "en" else settings.bureau
    context = messages.sample_context(language, bureau, settings.portal_url)
    return {"subject": messages.render(subject, context), "body": messages.render(body, context)}


@bp.route("/communications/templates/<topic>/<language>", methods=["GET", "POST"])
@login_required
@access.allows("message_template.edit")
def edit_template(topic: str, language: str):
    if topic not in messages.TOPICS or language not in messages.LANGUAGES:
        abort(404)
    template = messages.stored(db.session).get((topic, language))
    wording = messages.current(db.session)[(topic, language)]
    form = TemplateForm()
    if request.method == "GET":
        form.subject.data, form.body.data = wording.subject, wording.body
        form.version.data = template.version if template else ""
    action = request.form.get("action", "save")
    status, summary, preview, stale = 200, None, None, None
    if form.validate_on_submit():
        data = {"subject": form.subject.data, "body": form.body.data}
        try:
            if action == "preview":
                messages.check(data)
                preview = _preview(language, data["subject"], data["body"])
            elif action == "default":
                default = messages.DEFAULTS[(topic, language)]
                form.subject.data, form.body.data = default.subject, default.body
            else:
                messages.save(db.session, current_user, topic, language, data,
                              expected_version=binding.version_of(form))
                flash(_("The template was saved; the next reminders use it."), "success")
                return redirect(url_for("communications.templates"))
        except ValidationError as err:
            db.session.rollback()
            summary, status = binding.bind_errors(form, err.errors), 400
        except StaleEdit as err:
            db.session.rollback()
            stale, status = err.current, 409
            form.version.data = messages.stored(db.session)[(topic, language)].version
    elif request.method == "POST":
        status = 400
    return render_template("communications/template_form.html", form=form, topic=topic, language=language,
                           template=template, preview=preview, summary=summary, stale=stale,
                           placeholders=messages.PLACEHOLDERS), status
