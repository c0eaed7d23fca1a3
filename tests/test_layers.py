"""The layers of the README's Layout section, held by the import-linter contracts in ``.importlinter``:
the domain imports nothing of the app, models know no service, services know no web or API, the web
and the API do not import each other, the PDF code takes data (no service, model or database), and
the shared wording, paging and problem responses sit below all of them. ``make test`` runs this, so
a violation fails the suite with the chain of imports that breaks the contract."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = ("domain", "models", "services", "web-api", "pdf", "presentation")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), str(cwd / ".importlinter"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_hold():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


def test_every_layer_has_its_contract_and_every_package_of_the_app_is_named_in_them():
    """A new top-level package or module of ``registry`` must be placed in the layers, or the
    domain's contract (which lists everything it may not import) would silently let it through."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    assert [s.removeprefix("importlinter:contract:") for s in config.sections() if s.startswith("importlinter:contract:")] \
        == list(CONTRACTS)
    forbidden = set(config["importlinter:contract:domain"]["forbidden_modules"].split())
    own = {f"registry.{p.stem if p.is_file() else p.name}" for p in (ROOT / "registry").iterdir()
           if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert own - {"registry.domain", "registry.clock", "registry.config"} <= forbidden, \
        sorted(own - forbidden - {"registry.domain", "registry.clock", "registry.config"})


@pytest.mark.parametrize("module, line, contract", [
    ("registry/domain/dates.py", "from registry.models import Document", "The domain imports nothing of the app"),
    ("registry/services/tokens.py", "from registry.web import paging", "Services know no web or API"),
    ("registry/api/schemas.py", "from registry.web.errors import problems", "The web and the API do not import each other"),
    ("registry/pdf/qr.py", "from registry.services import documents", "PDF code takes data, not services"),
    ("registry/models/meter.py", "from registry.services import photos", "Models know no service, page, API or PDF"),
])
def test_an_import_across_a_layer_breaks_its_contract(tmp_path, module, line, contract):
    """The check bites: a copy of the package with one forbidden import added fails, naming the contract."""
    shutil.copytree(ROOT / "registry", tmp_path / "registry",
                    ignore=shutil.ignore_patterns("__pycache__", "translations", "*.mo"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    run = _lint(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{contract} BROKEN" in run.stdout
