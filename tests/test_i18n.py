"""Languages (issue 17): the catalogs hold every text the code marks, German and French translate
every one of them and keep their {placeholders}, a missing translation falls back to English, and
the browser's catalog script translates as the server does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal import i18n

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "portal" / "locale"
TEMPLATE = LOCALE / "messages.pot"
# The extraction keywords, as `make i18n-update` passes them.
KEYWORDS = re.search(r"^I18N_KEYWORDS := (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()  # type: ignore[union-attr]
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _catalog(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as fh:
        return read_po(fh)


def _ids(catalog) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_template_holds_exactly_the_texts_the_code_marks(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    *KEYWORDS, "-o", str(fresh), str(ROOT / "portal")],
                   check=True, cwd=ROOT, capture_output=True)
    marked, kept = _ids(_catalog(fresh)), _ids(_catalog(TEMPLATE))
    assert len(marked) > 30  # the control: the extraction finds the marked texts at all
    assert not marked - kept, f"texts not in the catalogs (run make i18n-update): {sorted(marked - kept)[:20]}"
    assert not kept - marked, f"texts the code no longer has (run make i18n-update): {sorted(kept - marked)[:20]}"


@pytest.mark.parametrize("lang", [lang for lang in i18n.SUPPORTED if lang != i18n.DEFAULT])
def test_every_text_is_translated_and_keeps_its_placeholders(lang: str) -> None:
    template = _ids(_catalog(TEMPLATE))
    catalog = _catalog(LOCALE / lang / "LC_MESSAGES" / "messages.po")
    missing, fuzzy, broken = [], [], []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not all(s.strip() for s in strings):
            missing.append(ids[0])
            continue
        if message.fuzzy:
            fuzzy.append(ids[0])
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in strings:
            found = set(PLACEHOLDER.findall(text))
            # A counted text's {n} may be written as a word ("un article") in a singular form.
            if found - wanted or (wanted - found) - {"n"}:
                broken.append((ids[0], text))
    assert template - _ids(catalog) == set(), f"{lang}: not in the catalog: {sorted(template - _ids(catalog))[:20]}"
    assert not missing, f"{lang}: {len(missing)} texts untranslated, e.g. {missing[:10]}"
    assert not fuzzy, f"{lang}: fuzzy translations (not used): {fuzzy[:10]}"
    assert not broken, f"{lang}: placeholders changed: {broken[:10]}"


def test_server_texts_follow_the_language_and_fall_back_to_english() -> None:
    try:
        i18n.use_language("de")
        assert i18n.tr("Orders") == "Bestellungen"  # the control: German is there
        assert i18n.tr("A text no catalog has, {x}", x=3) == "A text no catalog has, 3"  # English, never a key
        i18n.use_language("fr")
        assert i18n.tr("Orders") == "Commandes"
        i18n.use_language("pt-BR")  # not shipped: English
        assert i18n.tr("Orders") == "Orders"
        with i18n.in_language("de"):
            assert i18n.tr("Orders") == "Bestellungen"
        assert i18n.tr("Orders") == "Orders"
    finally:
        i18n.use_language(None)


@pytest.mark.parametrize(("header", "expected"), [
    ("de-DE,de;q=0.9,en;q=0.8", "de"),
    ("en-GB,en;q=0.9,fr;q=0.8", "en"),
    ("es-ES,fr;q=0.7,de;q=0.5", "fr"),
    ("de;q=0.2,fr-CA;q=0.9", "fr"),
    ("pt-BR,es;q=0.8", None),
    ("de;q=0,fr;q=0", None),
    ("", None),
    ("garbage;;q=x,,", None),
])
def test_accept_language_picks_the_best_shipped_language(header: str, expected: str | None) -> None:
    assert i18n.best_from_accept_language(header) == expected


def test_browser_script_translates_like_the_server(tmp_path: Path) -> None:
    body, version = i18n.catalog_script()
    script = tmp_path / "i18n.js"
    script.write_bytes(body)
    probe = f"""
        require({json.dumps(str(script))});
        const out = {{
          de: __pt("de", "Orders", {{}}),
          fr: __pt("fr", "Orders", {{}}),
          en: __pt("en", "Orders", {{}}),
          unknown: __pt("de", "Nothing like this, {{x}}", {{x: 7}}),
          one: __ptn("de", "{{n}} item", "{{n}} items", 1, {{}}),
          many: __ptn("de", "{{n}} item", "{{n}} items", 4, {{}}),
          en_many: __ptn("en", "{{n}} item", "{{n}} items", 4, {{}}),
        }};
        console.log(JSON.stringify(out));
    """
    run = subprocess.run(["node", "-e", probe], capture_output=True, text=True, check=True, timeout=60)
    out = json.loads(run.stdout)
    assert out["de"] == "Bestellungen" and out["fr"] == "Commandes" and out["en"] == "Orders"
    assert out["unknown"] == "Nothing like this, 7"
    assert out["en_many"] == "4 items"
    with i18n.in_language("de"):
        assert out["one"] == i18n.tr_n("{n} item", "{n} items", 1)
        assert out["many"] == i18n.tr_n("{n} item", "{n} items", 4)
    assert re.fullmatch(r"[0-9a-f]{16}", version)


def test_the_demo_has_customers_who_read_german_and_french() -> None:
    from portal.seed.demo import LANGUAGE_CUSTOMERS

    by_lang = {spec.locale: spec.name for spec in LANGUAGE_CUSTOMERS}
    assert set(by_lang) == {"de", "fr"}
    for name in by_lang.values():  # names a Latin-1 (cp1252) font could not print
        with pytest.raises(UnicodeEncodeError):
            name.encode("cp1252")
