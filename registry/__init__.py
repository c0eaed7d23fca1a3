"""Yiwu self-supplied water user registry (义乌市自备取水户一户一档)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"


def _tree(name: str) -> str:
    """``templates/`` and ``static/`` live at the project's top level; a wheel carries them inside
    the package (setup.py's build step copies them there), so look beside the package second."""
    top = ROOT / name
    return str(top if top.is_dir() else Path(__file__).resolve().parent / name)


class DatabaseId(IntegerConverter):
    """Ids in URLs fit a database integer; a larger number is simply not found (404), never a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """Application factory: configuration, extensions, blueprints, error handlers, CLI.

    It never creates tables or runs migrations; ``flask db upgrade`` does that.
    """
    app = Flask(__name__, instance_relative_config=True, template_folder=_tree("templates"),
                static_folder=_tree("static"))
    app.url_map.converters["int"] = DatabaseId
    from registry.web.requests import RegistryRequest

    app.request_class = RegistryRequest  # an oversized upload answered by its form, not a bare 413
    from registry import config as settings

    settings.load(app, config)
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only as many X-Forwarded-For/-Proto entries as there are proxies of ours: what a client
        # writes before them is ignored. Host and prefix are not taken from headers.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    from registry.services import photos

    photos.configure(app)  # Pillow's decompression-bomb guard, process-wide
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from registry import catalog, i18n
    from registry.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    # Flask-Limiter keeps the first app's key prefix on its one Limiter object (`prefix or config`):
    # each app's own RATELIMIT_KEY_PREFIX must win (tests build many apps in one process).
    limiter._key_prefix = None
    limiter.init_app(app)
    catalog.ensure_compiled(app)  # a start from a tree where no build step or `make` compiled the .po
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: app.config["TIMEZONE"])
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    from registry.web.auth.routes import forget_an_earlier_requests_account

    app.before_request(forget_an_earlier_requests_account)  # before anything reads current_user
    i18n.init_app(app)
    from registry import api, queue
    import registry.services.job_handlers  # noqa: F401  (the kinds of job register on import)

    api.init_app(app)
    queue.init_app(app)


def register_blueprints(app: Flask) -> None:
    from registry.services.plausibility_context import flag_messages
    from registry.services.warnings import describe as describe_warning
    from registry.web import timeline

    app.jinja_env.globals.update(entity_label=timeline.entity_label)  # the timeline's words (web layer)
    app.jinja_env.filters.update(flag_messages=flag_messages)  # a reading's flags in words (issue 17)
    app.jinja_env.filters.update(warning_reason=describe_warning)  # a warning's finding in words
    from registry.web.auth.routes import bp as auth_bp
    from registry.web.admin.routes import bp as admin_bp
    from registry.web.main.routes import bp as main_bp
    from registry.web.portal.routes import bp as portal_bp
    from registry.web.queue.routes import bp as queue_bp
    from registry.web.review.routes import bp as review_bp
    from registry.web.records.routes import bp as records_bp
    from registry.web.water_users.routes import bp as water_users_bp
    from registry.web.certificates.routes import bp as certificates_bp
    from registry.web.communications.routes import bp as communications_bp
    from registry.web.visits.routes import bp as visits_bp
    from registry.web.tokens.routes import bp as tokens_bp
    from registry.web.exchange.routes import bp as exchange_bp
    from registry.web.plans.routes import bp as plans_bp
    from registry.web.tax.routes import bp as tax_bp
    from registry.web.monitoring.routes import bp as monitoring_bp
    from registry.web.warnings.routes import bp as warnings_bp
    from registry.web.analysis.routes import bp as analysis_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(water_users_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(queue_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(communications_bp)
    app.register_blueprint(visits_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(exchange_bp)
    app.register_blueprint(plans_bp)
    app.register_blueprint(tax_bp)
    app.register_blueprint(monitoring_bp)
    app.register_blueprint(warnings_bp)
    app.register_blueprint(analysis_bp)


def register_errorhandlers(app: Flask) -> None:
    from registry.web import errors, security

    errors.register(app)
    security.register(app)
    app.register_blueprint(security.bp)


def register_cli(app: Flask) -> None:
    from registry.cli import registry_cli

    app.cli.add_command(registry_cli)
