"""Languages: every text a person reads goes through the message catalogs in `portal/locale`.

English is the source language: a text is written in English where it is used, marked for the
catalogs, and shown in the reader's language when a translation exists (else in English, never
as a key). German and French are shipped; `make i18n` extracts, updates and compiles the catalogs
(the README's "Translating the portal" tells a business how to add a language).

Two ways a text is marked, by where it is rendered:

- `tr("Your order {number} was cancelled.", number=...)`: on the server (state handlers,
  validation and domain messages, notifications, emails, PDFs, CSV headers, the assistant). It is
  translated into the language of whoever is served now (`use_language`; the guard sets it for each
  event and live push from the person's profile, or for a stranger from their choice, the
  `portal_lang` cookie, then the browser's Accept-Language).
- `t("Orders")`, `t("{count} open", count=State.var)`: in a compiled page. Pages are compiled to
  React once for everyone, so `t` returns a Var that the browser translates with the catalog
  script (`assets/i18n.js`, all languages, written from the compiled catalogs, fingerprinted) in
  the tab's language (`SessionState.lang`, set by the server). Before the tab is live (the prerendered page) it is
  English; the texts follow a language switch without a reload.

`trc`/`tc` take a context for an English word with two meanings ("Open": a button, a status).
`N_("...")` marks a text kept in a constant (a label table) for extraction; the constant is
translated where it is shown, with `tr(value)` or `t(value)`.

Plural forms: `tr_n("{n} item", "{n} items", n)` / `tn("{n} item", "{n} items", count_var)`, with
each language's own plural rule from its catalog.
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import json
import logging
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
# The languages shipped, each complete; the order is the order of the language menu.
SUPPORTED: tuple[str, ...] = ("en", "de", "fr")
# What each language is called in itself (the menu shows a language by its own name).
NAMES: dict[str, str] = {"en": "English", "de": "Deutsch", "fr": "Français"}
COOKIE = "portal_lang"

_language: ContextVar[str] = ContextVar("portal_language", default=DEFAULT)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def N_(message: str) -> str:
    return message


def language_of(value: str | None) -> str | None:
    """The shipped language a locale or language tag names ("de", "de-CH", "fr_FR"), else None."""
    if not value:
        return None
    base = value.strip().replace("_", "-").split("-")[0].lower()
    return base if base in SUPPORTED else None


def best_from_accept_language(header: str | None) -> str | None:
    """The shipped language a browser's Accept-Language prefers most, else None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = language_of(tag)
        if lang is not None and quality > 0:
            ranked.append((-quality, index, lang))
    return min(ranked)[2] if ranked else None


def use_language(lang: str | None) -> None:
    """Serve texts in this language from now on in this context (unknown or None: English)."""
    _language.set(language_of(lang) or DEFAULT)


def current_language() -> str:
    return _language.get()


@functools.cache
def _catalog(lang: str) -> gettext.NullTranslations:
    if lang == DEFAULT:
        return gettext.NullTranslations()
    mo = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    po = mo.with_suffix(".po")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if po.exists():  # not compiled yet (a checkout before `make i18n`): read the source catalog
        log.warning("the %s catalog is not compiled; reading %s (run make i18n)", lang, po)
        return _from_po(po)
    log.error("no catalog for %s in %s: texts are shown in English", lang, LOCALE_DIR)
    return gettext.NullTranslations()


def _from_po(po: Path) -> gettext.NullTranslations:
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _fill(text: str, values: dict[str, Any]) -> str:
    if not values:
        return text
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


def tr(message: str, /, **values: Any) -> str:
    """`message` in the current language, its {placeholders} filled from `values`."""
    if not message:
        return message
    return _fill(_catalog(_language.get()).gettext(message), values)


def tr_n(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The form of a counted text that fits `n`, in the current language ({n} is filled with n)."""
    return _fill(_catalog(_language.get()).ngettext(singular, plural, n), {"n": n, **values})


def trc(context: str, message: str, /, **values: Any) -> str:
    """`message` in the current language as meant in `context` (one English word, two meanings:
    "Open" the button and "Open" the ticket status)."""
    return _fill(_catalog(_language.get()).pgettext(context, message), values)


def tr_in(lang: str | None, message: str, /, **values: Any) -> str:
    """`message` in a given language (an email or a document for someone not served now)."""
    return _fill(_catalog(language_of(lang) or DEFAULT).gettext(message), values)


class in_language:
    """Texts and formats in another person's language for a block (an email to them, their PDF)."""

    def __init__(self, lang: str | None) -> None:
        self.lang = language_of(lang) or DEFAULT

    def __enter__(self) -> str:
        from portal import format as fmt

        self._tokens = (_language.set(self.lang), fmt._locale.set(self.lang))
        return self.lang

    def __exit__(self, *exc: object) -> None:
        from portal import format as fmt

        _language.reset(self._tokens[0])
        fmt._locale.reset(self._tokens[1])


# --- the browser's side -----------------------------------------------------------------------

def _plural_js(lang: str) -> str:
    """The plural rule of a language, from its catalog's header, as a JavaScript expression of n."""
    header = _catalog(lang).info().get("plural-forms", "") if lang != DEFAULT else ""
    found = re.search(r"plural=([^;]+)", header)
    if found and re.fullmatch(r"[n0-9 !=<>&|?:()%]+", found.group(1).strip()):
        return f"Number({found.group(1).strip()})"
    return "Number(n != 1)"


def _messages_of(lang: str) -> dict[str, Any]:
    catalog = _catalog(lang)
    raw: dict[Any, str] = getattr(catalog, "_catalog", {})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not value:
            continue
        if isinstance(key, tuple):  # (msgid, index) of a plural entry
            msgid, index = key
            forms = out.setdefault(msgid, [])
            if not isinstance(forms, list):
                continue
            while len(forms) <= index:
                forms.append("")
            forms[index] = value
        elif key:  # "" is the catalog's header
            out[key] = value
    return out


@functools.cache
def catalog_script() -> tuple[bytes, str]:
    """The browser's catalogs (every shipped language) as one script, and its fingerprint.

    It defines `__pt(lang, message, values)` and `__ptn(lang, singular, plural, n, values)`, which
    the Vars of `t`/`tn` call, and keeps `<html lang>` on the language shown."""
    data = {lang: _messages_of(lang) for lang in SUPPORTED if lang != DEFAULT}
    plurals = ",".join(f"{json.dumps(lang)}:function(n){{return {_plural_js(lang)};}}" for lang in SUPPORTED)
    body = (
        "(function(){'use strict';"
        f"var C={json.dumps(data, ensure_ascii=False, separators=(',', ':'), sort_keys=True)};"
        f"var P={{{plurals}}};"
        "function fill(s,v){return v?s.replace(/\\{([A-Za-z_][A-Za-z0-9_]*)\\}/g,function(m,k){"
        "return Object.prototype.hasOwnProperty.call(v,k)?String(v[k]):m;}):s;}"
        # The tab's language: <html lang>, and the page title (set in English by each page).
        "var cur='en',back={};"
        "function retitle(){if(typeof document==='undefined')return;var t=document.title,e=back[t]||t,"
        "m=C[cur],w=m&&typeof m[e]==='string'&&m[e]?m[e]:e;if(w!==t){back[w]=e;document.title=w;}}"
        "function mark(l){if(!l||typeof document==='undefined')return;var d=document.documentElement;"
        "if(l!==cur||d.lang!==l){cur=l;d.lang=l;retitle();}}"
        "if(typeof MutationObserver!=='undefined'&&typeof document!=='undefined'&&document.head){"
        "new MutationObserver(retitle).observe(document.head,{subtree:true,childList:true,characterData:true});}"
        "globalThis.__pt=function(l,s,v){mark(l);var m=C[l];var r=m&&typeof m[s]==='string'&&m[s]?m[s]:s;"
        "return fill(r,v);};"
        "globalThis.__ptc=function(l,k,s,v){mark(l);var m=C[l];var r=m&&typeof m[k]==='string'&&m[k]?m[k]:s;"
        "return fill(r,v);};"
        "globalThis.__ptn=function(l,s,p,n,v){mark(l);var m=C[l];var f=m&&m[s];var i=(P[l]||P.en)(n);"
        "var r=Array.isArray(f)&&f[i]?f[i]:(n==1?s:p);var w=Object.assign({n:n},v||{});return fill(r,w);};"
        "})();\n"
    )
    data_bytes = body.encode("utf-8")
    return data_bytes, hashlib.sha256(data_bytes).hexdigest()[:16]


SCRIPT_NAME = "i18n.js"  # in assets/, served with the pages at /i18n.js


def write_catalog_script(assets: Path) -> str:
    """Write the browser's catalogs to `assets/i18n.js` when they changed (the pages are compiled
    with its fingerprint, `make i18n` writes it too); returns the fingerprint."""
    import os
    import tempfile

    body, version = catalog_script()
    target = assets / SCRIPT_NAME
    if not target.exists() or target.read_bytes() != body:
        fd, tmp = tempfile.mkstemp(dir=assets, prefix=".i18n-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)  # atomic: workers starting together never read half a file
    return version


if __name__ == "__main__":  # make i18n
    print(f"assets/{SCRIPT_NAME}: {write_catalog_script(Path('assets'))}")


def _var_data(*vars_: Any) -> Any:
    from reflex_base.vars.base import VarData

    return VarData.merge(*(v._get_all_var_data() for v in vars_))


def _lang_var() -> Any:
    from portal.state.session import SessionState

    return SessionState.lang


def _english_js(message: str, values: dict[str, Any]) -> str:
    """The English text as a JavaScript expression, placeholders filled (what the prerendered
    page shows, and any page before the catalog script ran)."""
    from reflex_base.vars.base import Var

    parts: list[str] = []
    last = 0
    for m in _PLACEHOLDER.finditer(message):
        if m.start() > last:
            parts.append(json.dumps(message[last:m.start()]))
        value = values.get(m.group(1))
        if value is None:
            parts.append(json.dumps(m.group(0)))
        elif isinstance(value, Var):
            parts.append(f"String({value!s})")
        else:
            parts.append(json.dumps(str(value)))
        last = m.end()
    if last < len(message) or not parts:
        parts.append(json.dumps(message[last:]))
    return "(" + "+".join(parts) + ")"


def _values_js(values: dict[str, Any]) -> str:
    from reflex_base.vars.base import Var

    items = []
    for key, value in values.items():
        items.append(f"{json.dumps(key)}:{value!s}" if isinstance(value, Var) else
                     f"{json.dumps(key)}:{json.dumps(str(value))}")
    return "{" + ",".join(items) + "}"


def t(message: str, /, **values: Any) -> Any:
    """A text of a compiled page, shown in the tab's language; `values` may be Vars."""
    from reflex_base.vars.base import Var

    lang = _lang_var()
    dynamic = [v for v in values.values() if isinstance(v, Var)]
    expr = (f"(globalThis.__pt?globalThis.__pt({lang!s},{json.dumps(message)},{_values_js(values)})"
            f":{_english_js(message, values)})")
    return Var(_js_expr=expr, _var_type=str, _var_data=_var_data(lang, *dynamic))


def tc(context: str, message: str, /, **values: Any) -> Any:
    """`t` for a text whose meaning depends on `context` (see `trc`)."""
    from reflex_base.vars.base import Var

    lang = _lang_var()
    dynamic = [v for v in values.values() if isinstance(v, Var)]
    key = f"{context}\x04{message}"
    expr = (f"(globalThis.__pt?globalThis.__ptc({lang!s},{json.dumps(key)},{json.dumps(message)},"
            f"{_values_js(values)}):{_english_js(message, values)})")
    return Var(_js_expr=expr, _var_type=str, _var_data=_var_data(lang, *dynamic))


def tn(singular: str, plural: str, n: Any, /, **values: Any) -> Any:
    """A counted text of a compiled page (`n` a Var or a number), in the tab's language."""
    from reflex_base.vars.base import Var

    lang = _lang_var()
    n_js = str(n) if isinstance(n, Var) else json.dumps(n)
    dynamic = [v for v in (n, *values.values()) if isinstance(v, Var)]
    english = (f"(({n_js})==1?{_english_js(singular, {**values, 'n': n})}"
               f":{_english_js(plural, {**values, 'n': n})})")
    expr = (f"(globalThis.__ptn?globalThis.__ptn({lang!s},{json.dumps(singular)},{json.dumps(plural)},{n_js},"
            f"{_values_js(values)}):{english})")
    return Var(_js_expr=expr, _var_type=str, _var_data=_var_data(lang, *dynamic))
