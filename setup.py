"""Metadata lives in setup.cfg; this file adds one build step: the message catalogs, and the
top-level templates/ and static/ copied into the package of a wheel.

The compiled catalogs (.mo) are not in git, so building the package compiles them
(registry/catalog.py, loaded by path: the package's own dependencies are not installed yet).
A wheel carries them; an editable install (``pip install -e``) writes them beside the .po.
"""
import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TREES = ("templates", "static")


def _catalog():
    spec = importlib.util.spec_from_file_location("_registry_catalog", ROOT / "registry" / "catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithCatalogs(build_py):
    def run(self):
        super().run()
        catalog = _catalog()
        source = ROOT / "registry" / "translations"
        if getattr(self, "editable_mode", False):
            catalog.compile_catalogs(source, only_stale=True)  # served from the tree itself
        else:
            catalog.compile_catalogs(source, Path(self.build_lib) / "registry" / "translations")
            for tree in TREES:  # the top-level templates/ and static/ travel inside the package
                shutil.copytree(ROOT / tree, Path(self.build_lib) / "registry" / tree, dirs_exist_ok=True)

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            source = ROOT / "registry" / "translations"
            outputs += [str(Path(self.build_lib) / "registry" / "translations" /
                            po.relative_to(source).with_suffix(".mo")) for po in source.glob("*/LC_MESSAGES/*.po")]
            outputs += [str(Path(self.build_lib) / "registry" / path.relative_to(ROOT))
                        for tree in TREES for path in (ROOT / tree).rglob("*") if path.is_file()]
        return outputs


setup(cmdclass={"build_py": BuildWithCatalogs})
