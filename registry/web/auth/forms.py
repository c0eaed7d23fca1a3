from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=60)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})


class LogoutForm(FlaskForm):
    """Sign-out is a POST with a CSRF token, so no link or image can sign someone out."""


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password (at least 10 characters)"), render_kw={"autocomplete": "new-password"})
    repeat = PasswordField(_l("New password again"), render_kw={"autocomplete": "new-password"})


class RegistrationForm(FlaskForm):
    display_name = StringField(_l("Company name"))
    uscc = StringField(_l("Unified social credit code (USCC)"), render_kw={"autocapitalize": "characters"})
    username = StringField(_l("Username"), render_kw={"autocapitalize": "none"})
    email = StringField(_l("E-mail"), render_kw={"inputmode": "email"})
    phone = StringField(_l("Contact phone"), render_kw={"inputmode": "tel"})
    password = PasswordField(_l("Password (at least 10 characters)"), render_kw={"autocomplete": "new-password"})
    repeat = PasswordField(_l("Password again"), render_kw={"autocomplete": "new-password"})
