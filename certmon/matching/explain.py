"""Every explanation sentence the engine writes, in Norwegian bokmål, in one place.

Each match carries one sentence a constituent can read. Kept together so the templates can move
into the translation layer (certmon/locale) without hunting through the engine.
"""

from __future__ import annotations

TEMPLATES: dict[str, str] = {
    "ip-network": "IP-adressen {ip} ligger i nettverket {network} som er registrert på {owner}.",
    "ip-network-url": "Nettadressen {url} peker til IP-adressen {ip}, som ligger i nettverket {network} "
                      "registrert på {owner}.",
    "cidr-inside": "Nettverket {cidr} ligger innenfor nettverket {network} som er registrert på {owner}.",
    "cidr-covers": "Nettverket {cidr} omfatter nettverket {network} som er registrert på {owner}.",
    "domain-exact": "Domenet {domain} er registrert på {owner}.",
    "domain-sub": "Domenet {domain} ligger under domenet {registered} som er registrert på {owner}.",
    "domain-url": "Nettadressen {url} peker til {domain}, som hører til domenet {registered} "
                  "registrert på {owner}.",
    "domain-email": "E-postadressen {email} hører til domenet {registered} som er registrert på {owner}.",
    "email-domain": "E-postadressen {email} bruker e-postdomenet {registered} som er registrert på {owner}.",
    "asn": "AS{asn} er registrert på {owner}.",
    "asn-exposure": "Funnet gjelder en adresse i AS{asn}, som er registrert på {owner}.",
    "product-affected": "{owner} har {product} «{inventory}» i teknologiregisteret, og leverandøren oppgir "
                        "versjonene {versions} som berørt{cves}.",
    "product-within": "Hele «{inventory}» i teknologiregisteret til {owner} ligger innenfor versjonene "
                      "leverandøren oppgir som berørt ({versions}){cves}.",
    "product-partly": "«{inventory}» i teknologiregisteret til {owner} overlapper delvis versjonene leverandøren "
                      "oppgir som berørt ({versions}){cves}; sjekk hvilken versjon som kjører.",
    "product-unknown-version": "{product} står i teknologiregisteret til {owner} som «{inventory}» uten versjon; "
                               "leverandøren oppgir {versions} som berørt{cves}, så versjonen er ikke "
                               "sammenlignet.",
    "product-uncomparable": "{product} står i teknologiregisteret til {owner} som «{inventory}», men versjonen "
                            "kan ikke sammenlignes med «{versions}»{cves}; treffet har lavere sikkerhet.",
    "product-investigating": "Leverandøren undersøker fortsatt om {product} er berørt{cves}; {owner} har "
                             "«{inventory}». Mulig treff – sendes ikke automatisk.",
    "product-fixed": "Leverandøren oppgir at {product} {versions} er rettet{cves}; {owner} har «{inventory}».",
    "product-not_affected": "Leverandøren oppgir at {product} {versions} ikke er berørt{why}{cves}; {owner} har "
                            "«{inventory}».",
    "product-recommended": "Leverandøren anbefaler {product} {versions}{cves}; {owner} har «{inventory}».",
    "product": "{product} står i teknologiregisteret til {owner} som «{inventory}» "
               "(versjonen er ikke sammenlignet).",
    "name": "Teksten nevner «{text}», som er navnet på {owner}.",
    "supplier": "{owner} er avhengig av leverandøren {supplier}, som er berørt ({reason}).",
}


def explain(template: str, **values: object) -> str:
    """Fill one template; values are shown as given."""
    return TEMPLATES[template].format(**values)


def supplier_reason(sentence: str) -> str:
    """The supplier's own explanation without its final full stop, to quote inside another sentence."""
    return sentence[:-1] if sentence.endswith(".") else sentence
