"""Every explanation sentence the engine writes, in one place, through the translation layer.

Each match carries one sentence a constituent can read. The templates are message ids in English,
translated in certmon/locale (nb, nn); the engine stores the sentence in bokmål, the default language,
so the dashboard, the reports and the API read it as it is. A recipient who reads another language gets
it through `localise`, which reads the stored sentence back into its template and values — accepted only
when the values fill the bokmål template to exactly the stored sentence — and fills the template in that
language. Fragments inside a value (the list of CVEs, the vendor's justification, a component's
relation to its platform, "all versions") are translated the same way. A sentence that fits no template
(written by an older version, say) is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from certmon.i18n import DEFAULT_LANGUAGE, N_, translations

TEMPLATES: dict[str, str] = {
    "ip-network": N_("The IP address {ip} is in the network {network}, which is registered to {owner}."),
    "ip-network-url": N_("The URL {url} points to the IP address {ip}, which is in the network {network} "
                         "registered to {owner}."),
    "cidr-inside": N_("The network {cidr} lies within the network {network}, which is registered to {owner}."),
    "cidr-covers": N_("The network {cidr} covers the network {network}, which is registered to {owner}."),
    "domain-exact": N_("The domain {domain} is registered to {owner}."),
    "domain-sub": N_("The domain {domain} is under the domain {registered}, which is registered to {owner}."),
    "domain-url": N_("The URL {url} points to {domain}, which belongs to the domain {registered} "
                     "registered to {owner}."),
    "domain-email": N_("The e-mail address {email} belongs to the domain {registered}, which is registered "
                       "to {owner}."),
    "email-domain": N_("The e-mail address {email} uses the e-mail domain {registered}, which is registered "
                       "to {owner}."),
    "asn": N_("AS{asn} is registered to {owner}."),
    "asn-exposure": N_("The finding concerns an address in AS{asn}, which is registered to {owner}."),
    "product-affected": N_("{owner} has {product} «{inventory}» in its technology register, and the vendor "
                           "lists the versions {versions} as affected{cves}."),
    "product-within": N_("All of «{inventory}» in the technology register of {owner} lies within the versions "
                         "the vendor lists as affected ({versions}){cves}."),
    "product-partly": N_("«{inventory}» in the technology register of {owner} partly overlaps the versions the "
                         "vendor lists as affected ({versions}){cves}; check which version is running."),
    "product-unknown-version": N_("{product} is in the technology register of {owner} as «{inventory}» without "
                                  "a version; the vendor lists {versions} as affected{cves}, so the version "
                                  "has not been compared."),
    "product-uncomparable": N_("{product} is in the technology register of {owner} as «{inventory}», but the "
                               "version cannot be compared with «{versions}»{cves}; the match has lower "
                               "confidence."),
    "product-investigating": N_("The vendor is still investigating whether {product} is affected{cves}; "
                                "{owner} has «{inventory}». Possible match – not sent automatically."),
    "product-fixed": N_("The vendor states that {product} {versions} is fixed{cves}; {owner} has «{inventory}»."),
    "product-not_affected": N_("The vendor states that {product} {versions} is not affected{why}{cves}; "
                               "{owner} has «{inventory}»."),
    "product-recommended": N_("The vendor recommends {product} {versions}{cves}; {owner} has «{inventory}»."),
    "product": N_("{product} is in the technology register of {owner} as «{inventory}» (the version has not "
                  "been compared)."),
    "product-cves": N_("{product} is in the technology register of {owner} as «{inventory}» (the version has "
                       "not been compared). Concerns {list}."),
    "name": N_("The text mentions «{text}», which is the name of {owner}."),
    "supplier": N_("{owner} depends on the supplier {supplier}, which is affected ({reason})."),
}

# Fragments inside the values of the product sentences.
CVES = N_(" – concerns {list}")
MORE = N_(" and more")
ALL_VERSIONS = N_("all versions")
PLATFORM = N_(" ({relation} {platform})")
RELATIONS: dict[str, str] = {
    "default_component_of": N_("as part of"), "optional_component_of": N_("as an optional part of"),
    "external_component_of": N_("as an external part of"), "installed_on": N_("installed on"),
    "installed_with": N_("installed with"), "": N_("on"),
}
JUSTIFICATIONS: dict[str, str] = {
    "component_not_present": N_("the component is not present"),
    "vulnerable_code_not_present": N_("the vulnerable code is not present"),
    "vulnerable_code_not_in_execute_path": N_("the vulnerable code is not executed"),
    "vulnerable_code_cannot_be_controlled_by_adversary": N_("the vulnerable code cannot be controlled by an "
                                                            "attacker"),
    "inline_mitigations_already_exist": N_("built-in mitigations already exist"),
}
WHY = N_(" ({justification})")
# Values that are themselves fragments, translated after the sentence is read back.
_PRODUCT_FIELDS = ("product", "versions")


def _tr(message: str, language: str) -> str:
    return translations(language).gettext(message)


@lru_cache(maxsize=8)
def templates(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every sentence template in one language."""
    return {key: _tr(message, language) for key, message in TEMPLATES.items()}


def explain(template: str, **values: object) -> str:
    """Fill one template in bokmål, the language matches are stored in; values are shown as given."""
    return templates()[template].format(**values)


def cve_list(cves: Sequence[str], language: str = DEFAULT_LANGUAGE, *, limit: int = 6) -> str:
    """`CVE-1, CVE-2` — with "and more" past `limit`."""
    return ", ".join(cves[:limit]) + (_tr(MORE, language) if len(cves) > limit else "")


def cves_fragment(cves: Sequence[str], language: str = DEFAULT_LANGUAGE) -> str:
    """` – gjelder CVE-1, CVE-2` for the end of a product sentence ("" without CVE ids)."""
    if not cves or not any(c.startswith("CVE-") for c in cves):
        return ""
    return _tr(CVES, language).format(list=cve_list(cves, language))


def relation_fragment(relation: str | None, platform: str, language: str = DEFAULT_LANGUAGE) -> str:
    """` (installert på Windows)`: how a component stands to its platform."""
    word = _tr(RELATIONS.get(relation or "", RELATIONS[""]), language)
    return _tr(PLATFORM, language).format(relation=word, platform=platform)


def why_fragment(justification: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """` (den sårbare koden finnes ikke)`: the vendor's VEX justification ("" without one)."""
    if not justification:
        return ""
    words = JUSTIFICATIONS.get(justification)
    return _tr(WHY, language).format(justification=_tr(words, language) if words else justification)


def all_versions(language: str = DEFAULT_LANGUAGE) -> str:
    return _tr(ALL_VERSIONS, language)


def supplier_reason(sentence: str) -> str:
    """The supplier's own explanation without its final full stop, to quote inside another sentence."""
    return sentence[:-1] if sentence.endswith(".") else sentence


# Reading a stored sentence back --------------------------------------------------------------------

_FIELD = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    """The template as an anchored expression: a lazy group per field, the fragments by their own shape."""
    nb = DEFAULT_LANGUAGE
    shapes = {"cves": "(?:" + re.escape(_tr(CVES, nb).partition("{list}")[0]) + ".+?)?",
              "why": "(?:" + re.escape(_tr(WHY, nb).partition("{justification}")[0]) + ".+?"
                     + re.escape(_tr(WHY, nb).partition("{justification}")[2]) + ")?"}
    out, at = [], 0
    for m in _FIELD.finditer(template):
        out.append(re.escape(template[at:m.start()]))
        out.append(f"(?P<{m.group(1)}>{shapes.get(m.group(1), '.*?')})")
        at = m.end()
    out.append(re.escape(template[at:]))
    return re.compile(r"\A" + "".join(out) + r"\Z", re.S)


@lru_cache(maxsize=4)
def _readers(language: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(template key, pattern) for every template, longest literal text first (most specific)."""
    found = templates(language)
    keys = sorted(found, key=lambda k: -len(_FIELD.sub("", found[k])))
    return tuple((key, _pattern(found[key])) for key in keys)


def read_back(sentence: str) -> tuple[str, dict[str, str]] | None:
    """The template key and values a stored bokmål sentence was made from, or None."""
    source = templates()
    for key, pattern in _readers(DEFAULT_LANGUAGE):
        m = pattern.match(sentence)
        if m is not None and source[key].format(**m.groupdict()) == sentence:
            return key, m.groupdict()
    return None


@lru_cache(maxsize=4)
def _fragment_maps(language: str) -> dict[str, list[tuple[str, str]]]:
    """bokmål → target pairs for the fragment values, longest first."""
    def pairs(messages: list[str]) -> list[tuple[str, str]]:
        return sorted(((_tr(m, DEFAULT_LANGUAGE), _tr(m, language)) for m in messages), key=lambda p: -len(p[0]))
    return {"relation": pairs(list(RELATIONS.values())), "why": pairs(list(JUSTIFICATIONS.values()))}


def _localise_value(name: str, value: str, language: str) -> str:
    nb = DEFAULT_LANGUAGE
    if name == "cves" and value:
        head = _tr(CVES, nb).partition("{list}")[0]
        if value.startswith(head):
            ids = value[len(head):]
            tail = _tr(MORE, nb)
            ending = _tr(MORE, language) if ids.endswith(tail) else ""
            ids = ids[: -len(tail)] if ending else ids
            return _tr(CVES, language).format(list=ids + ending)
    if name == "list":  # before the sentence's own full stop, "m.fl." has lost its last dot
        more, stripped = _tr(MORE, nb), _tr(MORE, nb).removesuffix(".")
        for ending in (more, stripped):
            if ending and value.endswith(ending):
                return value[: -len(ending)] + _tr(MORE, language).removesuffix(".")
    if name == "versions" and (value == all_versions(nb) or value.endswith(" " + all_versions(nb))):
        value = value[: -len(all_versions(nb))] + all_versions(language)
    if name == "why" and value:
        for before, after in _fragment_maps(language)["why"]:
            if value == _tr(WHY, nb).format(justification=before):
                return _tr(WHY, language).format(justification=after)
    if name in _PRODUCT_FIELDS:  # a component's relation to its platform: ` (installert på …)`
        head = _tr(PLATFORM, nb).partition("{relation}")[0]
        target = _tr(PLATFORM, language).partition("{relation}")[0]
        for before, after in _fragment_maps(language)["relation"]:
            value = value.replace(f"{head}{before} ", f"{target}{after} ")
        return value
    if name == "reason" and value:
        return supplier_reason(localise(value + ".", language))
    return value


def localise(sentence: str, language: str) -> str:
    """A stored explanation in the reader's language (nb, nn, en); as stored when it fits no template."""
    if language == DEFAULT_LANGUAGE or not sentence:
        return sentence
    found = read_back(sentence)
    if found is None:
        return sentence
    key, values = found
    values = {name: _localise_value(name, value, language) for name, value in values.items()}
    return templates(language)[key].format(**values)
