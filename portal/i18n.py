"""Languages of the portal: Polish (the default, and the language of the source text) and
English, chosen per browser.

Message ids are the Polish text itself, so Polish needs no catalog and costs nothing: gettext
in Polish returns its argument. English comes from `portal/locale/en/LC_MESSAGES/messages.po`,
compiled in memory the first time an English message is asked for in a process (no `.mo` file
is committed or needed: a fresh clone and an installed wheel read the same `.po`; a fuzzy or
empty entry counts as untranslated and shows the Polish text). `scripts/i18n` extracts, updates
and checks the catalogs (docs/i18n.md).

The language of the code running now is a context variable: `LocaleMiddleware`
(portal.web.locale) sets it for each request from the `ebok_lang` cookie, which the header's
`?lang=en` / `?lang=pl` links set. Everything that speaks reads it: the Jinja2 `_()` and
`{% trans %}` of every template (portal.web.templating installs `gettext`/`ngettext` below),
Python code (`from portal.i18n import gettext as _`) and the display formats of
portal.web.format (money, dates).

Code that composes text outside a request, or for someone other than the one asking (e-mail
notices sent by `ebok sync`, a letter printed in the office), names the language:

    from portal.i18n import use_locale, render
    with use_locale(account_locale):
        subject = _("Nowe dokumenty wspólnoty")
    html = render(env, "letter.html", context, locale="en")

`render(env, name, context, locale=...)` renders one template of a Jinja2 environment that
`install()` prepared (the portal's `portal.web.templating.templates.env`, the mail
environment of portal.accounts.mail, whose `compose(…, locale=…)` does it for e-mail) in
that language, and `current_locale()` says which language the code runs in now (e.g. to
remember it with a queued message). Strings defined at import time (tables of labels) are
marked with `N_()` for the extractor and translated where they are shown, with `_(value)`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from gettext import GNUTranslations, NullTranslations
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import pass_context
from markupsafe import Markup

if TYPE_CHECKING:
    from jinja2 import Environment
    from jinja2.runtime import Context

DEFAULT_LOCALE = "pl"
LOCALES = ("pl", "en")
# Name of each language in itself, for the switch in the page header.
LANGUAGE_NAMES = {"pl": "Polski", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

_locale: ContextVar[str] = ContextVar("ebok_locale", default=DEFAULT_LOCALE)


def current_locale() -> str:
    """The language the running code speaks: "pl" or "en"."""
    return _locale.get()


def normalize(value: str | None) -> str:
    """A known locale code from anything (cookie, query, stored preference); else Polish."""
    return value if value in LOCALES else DEFAULT_LOCALE


@contextmanager
def use_locale(locale: str) -> Iterator[str]:
    """Run the block in `locale` (unknown codes mean Polish), then restore the previous one."""
    token = _locale.set(normalize(locale))
    try:
        yield _locale.get()
    finally:
        _locale.reset(token)


def set_locale(locale: str) -> Any:
    """Set the language for the rest of this context; returns a token for `reset_locale`.
    For middleware, which cannot wrap a `with` around its inner app's lifetime tidily."""
    return _locale.set(normalize(locale))


def reset_locale(token: Any) -> None:
    _locale.reset(token)


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale`, read once per process. Polish (the source) and a
    locale without a catalog translate nothing."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT_LOCALE or not po.is_file():
        return NullTranslations()
    from babel.messages.mofile import write_mo  # only when a translation is first needed
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=DOMAIN)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return GNUTranslations(buf)


def gettext(message: str) -> str:
    """`message` (Polish) in the current language."""
    locale = _locale.get()
    if locale == DEFAULT_LOCALE:
        return message
    return translations(locale).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for `n` in the current language. Polish msgids have two forms only (the
    catalog's English has the same two); Polish's third form ("5 lokali") comes from
    `plural_pl` where it matters."""
    locale = _locale.get()
    if locale == DEFAULT_LOCALE:
        return singular if n == 1 else plural
    return translations(locale).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (the conventional marker's name)
    """Marks a string for the extractor without translating it (tables built at import)."""
    return message


class Labels(dict):
    """A table built at import whose values are message ids (marked with `N_`): reading a
    value (`[key]`, `get`, `values`, `items`) gives it in the current language, so a template
    or view can use the table as it always did."""

    def __getitem__(self, key: Any) -> str:
        return gettext(super().__getitem__(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def values(self) -> list[str]:  # type: ignore[override]
        return [gettext(v) for v in super().values()]

    def items(self) -> list[tuple[Any, str]]:  # type: ignore[override]
        return [(k, gettext(v)) for k, v in super().items()]


def plural_pl(n: int, one: str, few: str, many: str) -> str:
    """`1 lokal`, `2 lokale`, `5 lokali`, `22 lokale`, `112 lokali`: Polish's three forms."""
    if n == 1:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def render(env: Environment, name: str, context: Mapping[str, Any], *, locale: str) -> str:
    """Template `name` of `env` rendered in `locale`, whatever language the running code
    speaks; for mail and letters made for someone else."""
    with use_locale(locale):
        return env.get_template(name).render(context)


_CONSTANTS: dict[tuple[str, str, bool], str] = {}
MAX_CONSTANTS = 10_000  # message ids come from templates, but `_(variable)` could be anything


@pass_context
def _template_gettext(context: Context, message: str, /, **variables: Any) -> str:
    """Jinja's newstyle `gettext` (the result marked safe under autoescape, `variables`
    escaped into it, `%%` read as `%` even without variables), with the answers for messages
    without variables kept per language."""
    autoescape = context.eval_ctx.autoescape
    if variables:
        text = gettext(message)
        return (Markup(text) if autoescape else text) % variables
    key = (_locale.get(), message, autoescape)
    answer = _CONSTANTS.get(key)
    if answer is None:
        text = gettext(message)
        answer = (Markup(text) if autoescape else text) % {}
        if len(_CONSTANTS) < MAX_CONSTANTS:
            _CONSTANTS[key] = answer
    return answer


def install(env: Environment) -> None:
    """Give a Jinja2 environment `_()`, `ngettext()` and `{% trans %}` reading the current
    language (newstyle: `_("… %(name)s", name=x)` escapes `x`; a literal % is written %%),
    `{% trans %}` blocks with whitespace trimmed as the extractor reads them, the filter
    `|t` for a message id held in a variable (`{{ error|t }}`: translated and still escaped,
    where `_()` would mark its result safe HTML), and the global `current_locale()` for
    `<html lang>`."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    # Jinja's own newstyle callables (and `_`, an alias that looks `gettext` up again) build a
    # Markup and %-format it on every call: a quarter of the panel's search page went there
    # (py-spy, bench/panel_bench.py). Ours answer a message without variables from a cache.
    env.globals.update(_=_template_gettext, gettext=_template_gettext)
    env.globals["current_locale"] = current_locale
    env.filters["t"] = gettext
