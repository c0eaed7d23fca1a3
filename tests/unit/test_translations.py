"""The Chinese catalog is complete and faithful to the current source.

zh_CN is the default UI language, so an English string without a Chinese translation is a bug.
The messages are extracted from the source here exactly as ``make messages`` does (the method
map of babel.cfg and the keywords ``_l`` and ``lazy_gettext``), without relying on a .pot that
may be stale. If a test here fails after you added or changed a text: run ``make messages``,
translate the new entries in registry/translations/zh_Hans_CN/LC_MESSAGES/messages.po (no
``#, fuzzy`` left), then ``make translations``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
BABEL_CFG = ROOT / "babel.cfg"
# The Chinese catalog, whichever spelling its folder has (zh_CN, zh_Hans_CN or zh).
PO = min(ROOT.glob("registry/translations/zh*/LC_MESSAGES/messages.po"),
         default=ROOT / "registry/translations/zh_Hans_CN/LC_MESSAGES/messages.po")
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}  # as `make messages`

# Named printf placeholders: %(n)d, %(what)s, %(v)s …
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa]")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")

# msgids whose translation may legitimately be the same Latin text (codes and symbols).
SAME_IN_CHINESE = {"DN", "Q3", "USCC", "CGCS2000", "PDF", "JPEG", "PNG"}
# Latin words a Chinese text may carry besides codes (ALL-CAPS or with digits): the symbols of
# GB/T 12452-2022 (Vf, Vr, Vco, Vd, Vl), units, the example e-mail address, and JSON's literals
# (the API's messages name the type a value must have).
LATIN_ALLOWED = {"Vf", "Vr", "Vco", "Vd", "Vl", "mm", "name", "example", "com", "true", "false"}


def _forms(value) -> tuple[str, ...]:
    """A message id or string as a tuple of its forms (plural messages have several)."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _key(msgid) -> str:
    return _forms(msgid)[0]


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], object]:
    """Every message in the current source: (msgid singular, context) → msgid."""
    with BABEL_CFG.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(BABEL_CFG))
    found = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        if _key(message):
            found[(_key(message), context)] = message
    assert found, "extraction found no message: is babel.cfg still matching the sources?"
    return found


@pytest.fixture(scope="module")
def catalog():
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN")


@pytest.fixture(scope="module")
def translated(catalog):
    """(msgid, msgstr form) pairs of every translated message of the catalog."""
    pairs = []
    for message in catalog:
        if not message.id:
            continue
        for form in _forms(message.string):
            if form:
                pairs.append((message.id, form))
    return pairs


def test_catalog_is_not_fuzzy(catalog):
    # pybabel compile skips a catalog whose header is fuzzy: the whole UI would fall back to English.
    assert not catalog.fuzzy, f"{PO.name}: remove '#, fuzzy' from the header entry"
    fuzzy = [_key(m.id) for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, "fuzzy entries (check the translation, then remove '#, fuzzy'):\n" + "\n".join(fuzzy)


def test_every_message_of_the_source_has_a_chinese_translation(extracted, catalog):
    missing = []
    for (msgid, context), message in sorted(extracted.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        entry = catalog.get(message, context=context)
        if entry is None or entry.fuzzy or not all(_forms(entry.string)):
            missing.append(msgid if context is None else f"{msgid} (context {context})")
    assert not missing, (
        f"{len(missing)} message(s) without a zh_CN translation - run `make messages`, translate them in "
        f"{PO.relative_to(ROOT)}, then `make translations`:\n" + "\n".join(f"  {m!r}" for m in missing))


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def test_translations_keep_the_placeholders(catalog):
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        wanted = set().union(*(_placeholders(f) for f in _forms(message.id)))
        for form in _forms(message.string):
            if form and _placeholders(form) != wanted:
                wrong.append(f"  {_key(message.id)!r}: wants {sorted(wanted)}, has {sorted(_placeholders(form))} "
                             f"in {form!r}")
    assert not wrong, "translations whose %(name)x placeholders differ from the English:\n" + "\n".join(wrong)


def test_catalog_passes_babels_own_checks(catalog):
    # The checks `pybabel compile` runs (python-format consistency and the like).
    problems = [f"  {_key(m.id)!r}: {'; '.join(str(e) for e in errors)}" for m, errors in catalog.check()]
    assert not problems, "catalog check errors:\n" + "\n".join(problems)


@pytest.mark.parametrize("msgid, msgstr, ok", [
    ("Save %(what)s", "保存%(what)s", True),
    ("Nominal diameter DN (mm)", "公称口径 DN（mm）", True),
    ("Fresh intake Vf (m³)", "取新水量 Vf（m³）", True),
    ("Save %(what)s", "Save %(what)s", False),
    ("Add intake point", "新增 intake point", False),
    ("Renewal due", "Renewal 待延续", False),
    ("DN", "DN", True),
])
def test_leftover_english_detector(msgid, msgstr, ok):
    assert (_leftover_english(msgid, msgstr) is None) is ok


def _leftover_english(msgid: str, msgstr: str) -> str | None:
    """Why msgstr still reads as English, or None when it is Chinese (or may stay the same)."""
    if msgid in SAME_IN_CHINESE or not LATIN_WORD.search(PLACEHOLDER.sub("", msgid)):
        return None
    text = PLACEHOLDER.sub("", msgstr)
    if not CJK.search(text):
        return "no Chinese at all"
    words = [w for w in LATIN_WORD.findall(text)
             if len(w) > 1 and not w.isupper() and w not in LATIN_ALLOWED]
    # ALL-CAPS tokens and codes with digits (GB, JJG, PDF, YYYY-MM, D330782S2021) are fine.
    return f"English word(s) {words}" if words else None


def test_no_english_left_in_the_translations(translated):
    leftovers = []
    for msgid, msgstr in translated:
        why = _leftover_english(_key(msgid), msgstr)
        if why:
            leftovers.append(f"  {_key(msgid)!r} → {msgstr!r}: {why}")
    assert not leftovers, ("translations that still contain English (extend SAME_IN_CHINESE or LATIN_ALLOWED "
                           "only for codes and symbols):\n" + "\n".join(leftovers))


# What may follow a % in a message: a named placeholder or %% (a literal per cent sign).
_ESCAPED_OR_NAMED = re.compile(PLACEHOLDER.pattern + r"|%%")


def _bare_percent(text: str) -> str | None:
    """Why ``text`` would break (or show garbled) when %-formatted, or None when it is safe.

    Jinja's newstyle gettext (our templates) always applies ``text % variables``, even with no
    variable: a bare ``%`` raises ``ValueError: incomplete format`` there (issue 16 item 1: the
    one-file page of any file with a flagged balance test). Python's gettext formats only when
    given variables, so a ``%%`` in a message without a named placeholder would show as "%%"
    there: such a message must carry a placeholder (``%(unit)s`` with unit="%") instead.
    """
    rest = _ESCAPED_OR_NAMED.sub("", text)
    if "%" in rest:
        return f"bare % at {rest.index('%')} of what is left: {rest!r}"
    names = {m.group(1) for m in PLACEHOLDER.finditer(text)}
    if "%%" in text and not names:
        return "%% without a named placeholder (shown as %% where formatted without variables)"
    try:
        text % {name: 1 for name in names}
    except (ValueError, TypeError, KeyError) as exc:
        return f"%-formatting fails: {exc}"
    return None


@pytest.mark.parametrize("text, safe", [
    ("above 5 %", False), ("示值误差（%）", False), ("Measured error (%(unit)s)", True),
    ("above the %(limit)s %% limit", True), ("100 %%", False), ("%(n)d of %(m)d", True), ("50%", False),
])
def test_item1_bare_percent_detector(text, safe):
    assert (_bare_percent(text) is None) is safe


def test_item1_no_bare_percent_in_the_catalog_msgid_or_msgstr(catalog):
    bad = []
    for message in catalog:
        if not message.id:
            continue
        for kind, forms in (("msgid", _forms(message.id)), ("msgstr", _forms(message.string))):
            for form in forms:
                why = form and _bare_percent(form)
                if why:
                    bad.append(f"  {kind} {form!r}: {why}")
    assert not bad, ("messages with a % that breaks %-formatting (write %% beside a named placeholder, "
                     "or pass the sign as a variable):\n" + "\n".join(bad))


def test_item1_no_bare_percent_in_the_source_messages(extracted):
    bad = [f"  {msgid!r}: {why}" for (msgid, _context) in extracted if (why := _bare_percent(msgid))]
    assert not bad, "source messages with a % that breaks %-formatting:\n" + "\n".join(bad)
