"""The compiled message catalogs (.mo) next to the translated ones (.po).

The .mo files are build products (git-ignores them), made in three places so that every way
of starting the app serves Chinese: ``setup.py``'s build step (a wheel carries them; an editable
install writes them beside the .po), ``make translations``, and ``ensure_compiled`` when the
app starts from a tree where neither ran (or a ``git pull`` brought a newer .po).

No Flask here: ``setup.py`` loads this file on its own, before the package's dependencies exist
(Babel is a build requirement, pyproject.toml).
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parent / "translations"


def stale(source: Path = SOURCE, target: Path | None = None) -> list[Path]:
    """The .po files under ``source`` whose .mo under ``target`` (default: beside them) is
    missing or older."""
    found = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = (target or source) / po.relative_to(source).with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            found.append(po)
    return found


def compile_catalogs(source: Path = SOURCE, target: Path | None = None, only_stale: bool = False) -> list[Path]:
    """Compile each ``<locale>/LC_MESSAGES/<domain>.po`` under ``source`` into the same place
    under ``target`` (default: beside it), as ``pybabel compile`` does (fuzzy entries left out).
    Each file is written under a temporary name and renamed, so a worker starting at the same
    moment reads the old catalog or the new one, never half of one."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = target or source
    written = []
    for po in (stale(source, target) if only_stale else sorted(source.glob("*/LC_MESSAGES/*.po"))):
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600: other users (the server's) read it too
            # never older than its .po, even one dated ahead of this clock: or each start compiles again
            newest = max(po.stat().st_mtime, Path(tmp).stat().st_mtime)
            os.utime(tmp, (newest, newest))
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(mo)
    return written


def ensure_compiled(app) -> None:
    """At start: compile a missing or stale catalog beside its .po when the package directory is
    writable (a checkout), else into the instance folder, which then serves the translations."""
    if not stale(SOURCE):
        return
    target = SOURCE if os.access(SOURCE, os.W_OK) else Path(app.instance_path) / "translations"
    written = compile_catalogs(SOURCE, target, only_stale=True)
    if written:
        log.info("compiled %d message catalog(s) into %s", len(written), target)
    if target != SOURCE:  # an installed package the server may not write: the instance's copy serves
        app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
