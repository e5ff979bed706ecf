"""The translation layer: gettext catalogues (`certmon/locale/<lang>/LC_MESSAGES/messages.po`).

The .po files are the source of truth; they are compiled in memory on first use with Babel, so no
build step or binary .mo file is needed. Message ids are English; bokmål is the default UI language.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from importlib import resources

DEFAULT_LANGUAGE = "nb"
LANGUAGES = ("nb", "nn", "en")


@lru_cache(maxsize=8)
def translations(language: str = DEFAULT_LANGUAGE) -> gettext.NullTranslations:
    """Compiled translations for a language (English message ids pass through for `en`)."""
    base = resources.files("certmon").joinpath("locale", language, "LC_MESSAGES", "messages.po")
    if not base.is_file():
        return gettext.NullTranslations()
    # Babel (~50 ms of imports) and the catalogue (~30 ms) load when the first message is translated,
    # not when a module imports `_`: `certmon parse` and the other quiet commands never pay for them.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with base.open("rb") as fh:
        catalog = read_po(fh, locale=language if language != "nn" else "nn_NO")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    found = gettext.GNUTranslations(buffer)
    if language == "nn":  # a Nynorsk reader is better served by bokmål than by the English message id
        found.add_fallback(translations(DEFAULT_LANGUAGE))
    return found


def gettext_for(language: str = DEFAULT_LANGUAGE):  # type: ignore[no-untyped-def]
    """The `_` function for a language."""
    return translations(language).gettext


def _(message: str) -> str:
    """The bokmål text for a message id (the catalogue is read on the first call)."""
    return translations(DEFAULT_LANGUAGE).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The bokmål form for a count (`%(num)s` in the ids is left for the caller to fill in)."""
    return translations(DEFAULT_LANGUAGE).ngettext(singular, plural, n)


def count(singular: str, plural: str, n: int, **fields: object) -> str:
    """`1 hendelse` / `2 hendelser`: the form that agrees with `n`, with `%(num)s` filled in."""
    return ngettext(singular, plural, n) % {"num": n, **fields}


def N_(message: str) -> str:
    """Mark a message id for extraction without translating it yet."""
    return message


# Labels for stored codes shared by the dashboard and the reports; the ids are English and the
# bokmål text lives in the .po catalogue.
CODE_LABELS: dict[str, dict[str, str]] = {
    "rule": {"ip-network": N_("IP network"), "cidr-overlap": N_("Overlapping network"),
             "domain": N_("Domain"), "email-domain": N_("E-mail domain"), "asn": N_("AS number"),
             "product": N_("Product"), "name": N_("Name in text"), "supplier": N_("Supplier")},
    "severity": {"critical": N_("Critical"), "high": N_("High"), "medium": N_("Medium"),
                 "low": N_("Low"), "info": N_("Information")},
    "match_sort": {"severity": N_("Severity first"), "time": N_("Newest first"),
                   "organisation": N_("By organisation"), "source": N_("By source")},
    "kind": {"kommune": N_("Municipality"), "fylkeskommune": N_("County municipality"),
             "rhf": N_("Regional health authority"), "hf": N_("Health trust"), "other": N_("Other")},
}
