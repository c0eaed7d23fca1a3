"""Packaging holds: any way of starting the app serves Chinese (the .mo files are build products,
not in git), and every dependency is pinned in constraints.txt, which the Makefile installs with."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from babel.support import Translations

from registry import catalog

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Path("zh_Hans_CN") / "LC_MESSAGES"


def _package_copy(tmp_path: Path) -> Path:
    """The registry package as a fresh clone has it: no compiled catalog, no byte code."""
    shutil.copytree(ROOT / "registry", tmp_path / "registry",
                    ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    for tree in ("templates", "static"):  # the top level of a clone (issue 14's layout)
        shutil.copytree(ROOT / tree, tmp_path / tree)
    assert not list((tmp_path / "registry").rglob("*.mo"))
    return tmp_path / "registry"


def _says(directory: Path, english: str) -> str:
    return Translations.load(str(directory), ["zh_Hans_CN"]).gettext(english)  # how Flask-Babel names zh_CN


def test_a_fresh_start_without_make_serves_chinese(tmp_path):
    package = _package_copy(tmp_path)
    script = ("from registry import create_app\n"
              "app = create_app({'TESTING': True, 'DATABASE_URL': 'sqlite://', 'SECRET_KEY': 'x'})\n"
              "import registry; assert registry.__file__.startswith(%r), registry.__file__\n"
              "print(app.test_client().get('/login').get_data(as_text=True))\n" % str(tmp_path))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("REGISTRY_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "登录" in done.stdout and "Sign in" not in done.stdout
    assert (package / "translations" / DOMAIN / "messages.mo").exists()


def test_a_po_newer_than_its_mo_is_compiled_again(tmp_path, monkeypatch):
    source = _package_copy(tmp_path) / "translations"
    catalog.compile_catalogs(source)
    po = source / DOMAIN / "messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "登录"', 'msgstr "登入"', 1), encoding="utf-8")
    os.utime(po, (po.stat().st_mtime + 10,) * 2)
    assert catalog.stale(source) == [po]
    monkeypatch.setattr(catalog, "SOURCE", source)
    app = SimpleNamespace(instance_path=str(tmp_path / "instance"), config={})
    catalog.ensure_compiled(app)
    assert _says(source, "Sign in") == "登入" and not catalog.stale(source) and app.config == {}


def test_a_read_only_package_compiles_into_the_instance_folder(tmp_path, monkeypatch):
    source = _package_copy(tmp_path) / "translations"
    monkeypatch.setattr(catalog, "SOURCE", source)
    monkeypatch.setattr(catalog.os, "access", lambda path, mode: False)  # the suite may run as root
    app = SimpleNamespace(instance_path=str(tmp_path / "instance"), config={})
    catalog.ensure_compiled(app)
    served = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    assert served == tmp_path / "instance" / "translations" and not list(source.rglob("*.mo"))
    assert _says(served, "Sign in") == "登录"


def test_the_build_step_puts_the_catalogs_in_the_package(tmp_path):
    """What a wheel (pip install .) carries: setup.py's build_py compiles them into the build."""
    tree = tmp_path / "tree"
    _package_copy(tree)
    for name in ("setup.py", "setup.cfg", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "build")],
                          cwd=tree, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    built = tmp_path / "build" / "registry" / "translations"
    assert _says(built, "Sign in") == "登录"
    # The top-level templates/ and static/ travel inside the wheel's package.
    assert (tmp_path / "build" / "registry" / "templates" / "base.html").is_file()
    assert list((tmp_path / "build" / "registry" / "static").rglob("*.css"))
    assert not list((tree / "registry").rglob("*.mo"))  # the source tree is left as it was


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not a pin: {line}"
            pins[_name(name)] = version
    return pins


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(project: str = "yiwu-registry", extras: tuple = ("dev",)) -> dict[str, str]:
    """Every distribution the project needs (with its dev extra), installed version by name."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    found, todo = {}, [(project, set(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a requirement of another platform or Python
        found[_name(name)] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                continue
            if _name(req.name) not in found:
                todo.append((req.name, set(req.extras)))
    found.pop(_name(project))
    return found


def test_every_dependency_is_pinned_and_installed_at_its_pin():
    pins = _pins()
    needed = _closure()
    assert len(needed) > 40
    assert {name: version for name, version in needed.items() if pins.get(name) != version} == {}
    # pinned ahead of the work that will require them (the queue, the layer contracts)
    assert {"redis", "huey", "import-linter", "openapi-spec-validator", "time-machine"} <= set(pins)
    assert pins["huey"].startswith("3.")
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile and "constraints.txt" in makefile.split("STAMP", 2)[1]
