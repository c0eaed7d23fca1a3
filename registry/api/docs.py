"""/api/v1/docs: the OpenAPI document as a readable page (no CDN script: bureau networks are closed)."""
from __future__ import annotations

from flask import Blueprint, render_template

from registry.api import api

bp = Blueprint("api_docs_page", __name__)


@bp.route("/api/v1/docs")
def docs():
    spec = api.spec.to_dict()
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                operations.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                                   "description": op.get("description", ""),
                                   "parameters": [p.get("name") for p in op.get("parameters", [])],
                                   "responses": sorted(op.get("responses", {}))})
    return render_template("api/docs.html", spec=spec, operations=operations)
