"""WSGI entry point: ``gunicorn registry.wsgi:app`` or ``flask --app registry.wsgi ...``."""
from registry import create_app

app = create_app()
