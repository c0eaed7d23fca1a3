"""``flask --app wsgi`` from the repository root (spec.md's command line)."""
from registry.wsgi import app  # noqa: F401
