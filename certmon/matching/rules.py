"""The matching rules: each reads one index and offers candidates to the item's Collector."""

from __future__ import annotations

from certmon.items.schemas import Item, Product
from certmon.matching.collect import Collector
from certmon.matching.domainindex import DomainIndex, normalise_domain
from certmon.matching.explain import (
    all_versions,
    cve_list,
    cves_fragment,
    explain,
    relation_fragment,
    supplier_reason,
    why_fragment,
)
from certmon.matching.names import NameIndex
from certmon.matching.netindex import NetworkIndex, format_ip, parse_network
from certmon.matching.products import CLEARED, ProductIndex, Verdict, claim_text, judge

CIDR_INSIDE = 85  # the indicator's range lies inside a registered network
CIDR_COVERS = 70  # the indicator's range is wider and only part of it is registered
DOMAIN_EXACT, DOMAIN_SUB = 95, 90
EMAIL_EXACT, EMAIL_SUB = 95, 85
ASN_INDICATOR, ASN_EXPOSURE = 85, 80
SUPPLIER_PENALTY = 10


def match_address(ix: NetworkIndex, col: Collector, family: int, value: int, url: str | None = None) -> None:
    """ip-network: every constituent with a network containing the address."""
    hits = ix.family(family).containing(value)
    if not hits:
        return
    ip = format_ip(family, value)
    for net in hits:
        owner = col.owner(net.constituent_id)
        if url is None:
            text = explain("ip-network", ip=ip, network=net.text, owner=owner)
        else:
            text = explain("ip-network-url", url=url, ip=ip, network=net.text, owner=owner)
        col.add(net.constituent_id, "ip-network", net.text, net.asset_id, net.confidence, text, net.prefixlen)


def match_cidr(ix: NetworkIndex, col: Collector, cidr: str) -> None:
    """cidr-overlap: registered networks containing the indicator's range or inside it."""
    try:
        family, start, end, plen = parse_network(cidr)
    except ValueError:
        return
    shown = cidr.strip()
    for net, inside in ix.family(family).overlapping(start, end, plen):
        owner = col.owner(net.constituent_id)
        template = "cidr-inside" if inside else "cidr-covers"
        text = explain(template, cidr=shown, network=net.text, owner=owner)
        # Containing networks rank above contained ones; among each, the narrower is more specific.
        spec = net.prefixlen if inside else -net.prefixlen
        conf = CIDR_INSIDE if inside else CIDR_COVERS
        col.add(net.constituent_id, "cidr-overlap", net.text, net.asset_id, conf, text, spec)


def match_domain(ix: DomainIndex, col: Collector, domain: str, *, url: str | None = None,
                 email: str | None = None) -> None:
    """domain: registered domains equal to or above the (normalised) name."""
    for hit in ix.owners(domain):
        owner = col.owner(hit.constituent_id)
        exact = hit.domain == domain
        if email is not None:
            text = explain("domain-email", email=email, registered=hit.domain, owner=owner)
        elif url is not None:
            text = explain("domain-url", url=url, domain=domain, registered=hit.domain, owner=owner)
        elif exact:
            text = explain("domain-exact", domain=domain, owner=owner)
        else:
            text = explain("domain-sub", domain=domain, registered=hit.domain, owner=owner)
        conf = DOMAIN_EXACT if exact else DOMAIN_SUB
        col.add(hit.constituent_id, "domain", hit.domain, hit.asset_id, conf, text, hit.labels)


def match_email(domains: DomainIndex, email_domains: DomainIndex, col: Collector, email: str) -> None:
    """email-domain against e-mail domains, and domain against domains, for an address's domain."""
    domain = normalise_domain(email.rpartition("@")[2])
    if not domain:
        return
    match_domain(domains, col, domain, email=email)
    for hit in email_domains.owners(domain):
        owner = col.owner(hit.constituent_id)
        text = explain("email-domain", email=email, registered=hit.domain, owner=owner)
        conf = EMAIL_EXACT if hit.domain == domain else EMAIL_SUB
        col.add(hit.constituent_id, "email-domain", hit.domain, hit.asset_id, conf, text, hit.labels)


def parse_asn(value: str | int | None) -> int | None:
    """An AS number from 64512, "64512" or "AS64512"; None if it is not one."""
    if value is None:
        return None
    text = str(value).strip().upper().removeprefix("AS")
    return int(text) if text.isdigit() else None


def match_asn(asns: dict[int, list[tuple[int, int]]], col: Collector, asn: int, *, exposure: bool) -> None:
    """asn: constituents that registered the AS number."""
    for asset_id, constituent_id in asns.get(asn, ()):
        owner = col.owner(constituent_id)
        text = explain("asn-exposure" if exposure else "asn", asn=asn, owner=owner)
        conf = ASN_EXPOSURE if exposure else ASN_INDICATOR
        col.add(constituent_id, "asn", str(asn), asset_id, conf, text)


def _item_products(item: Item) -> list[Product]:
    """The statements an advisory or vulnerability makes about products (a KEV entry's one product too)."""
    found = list(item.products)
    if item.product:
        found.append(Product(vendor=item.vendor or "", product=item.product))
    return found


def match_products(ix: ProductIndex, col: Collector, item: Item) -> None:
    """product: what the item says of each inventory line's version (products.judge); cleared lines are noted."""
    if item.kind == "vulnerability" and item.extra.get("advisory_key"):
        return  # a CSAF vulnerability is matched through its advisory: one match per advisory
    for entry, claims in ix.claims(_item_products(item)).items():
        verdict = judge(entry, claims)
        if verdict is None:
            continue
        owner = col.owner(entry.constituent_id)
        text = product_sentence(verdict, entry.value, owner)
        if verdict.status in CLEARED:
            col.clear(entry.constituent_id, text)
            continue
        col.add(entry.constituent_id, "product", entry.value, entry.asset_id, verdict.confidence, text,
                status=verdict.status)


def product_sentence(verdict: Verdict, inventory: str, owner: str) -> str:
    """The bokmål sentence for a product verdict."""
    claim = verdict.claim
    shown = (f"{claim.vendor} {claim.product}".strip() if claim.vendor and not
             claim.product.lower().startswith(claim.vendor.lower()) else claim.product) or inventory
    if claim.platform:
        shown += relation_fragment(claim.relation, claim.platform)
    cves = cves_fragment(verdict.cves)
    versions = claim_text(claim) or ""
    if verdict.status in CLEARED:
        return explain(f"product-{verdict.status}", product=shown, inventory=inventory, owner=owner,
                       versions=versions or all_versions(), why=why_fragment(claim.justification), cves=cves)
    if verdict.status == "under_investigation":
        return explain("product-investigating", product=shown, inventory=inventory, owner=owner, cves=cves)
    if verdict.how == "uncomparable":
        return explain("product-uncomparable", product=shown, inventory=inventory, owner=owner,
                       versions=versions, cves=cves)
    if verdict.how == "unversioned":
        if versions:
            return explain("product-unknown-version", product=shown, inventory=inventory, owner=owner,
                           versions=versions, cves=cves)
        if cves:
            return explain("product-cves", product=shown, inventory=inventory, owner=owner,
                           list=cve_list(verdict.cves).removesuffix("."))  # the sentence's stop ends it
        return explain("product", product=shown, inventory=inventory, owner=owner)
    template = {"point": "product-affected", "within": "product-within", "partly": "product-partly"}[verdict.how]
    return explain(template, product=shown, inventory=inventory, owner=owner, versions=versions, cves=cves)


def match_names(ix: NameIndex, col: Collector, item: Item) -> None:
    """name: constituents named in the title or summary."""
    text = " \n ".join(part for part in (item.title, item.summary) if part)
    if not text:
        return
    for hit in ix.find(text):
        owner = col.owner(hit.constituent_id)
        sentence = explain("name", text=hit.text, owner=owner)
        col.add(hit.constituent_id, "name", hit.text, None, hit.confidence, sentence, len(hit.text))


def propagate_suppliers(dependents: dict[int, list[tuple[int, int]]], col: Collector) -> None:
    """supplier: a match on a supplier concerns every constituent that depends on it (one level)."""
    direct = [result for _, result in col.best.values() if result.rule != "supplier"]
    for result in direct:
        for dependent_id, asset_id in dependents.get(result.constituent_id, ()):
            if dependent_id == result.constituent_id:
                continue
            supplier = col.owner(result.constituent_id)
            text = explain("supplier", owner=col.owner(dependent_id), supplier=supplier,
                           reason=supplier_reason(result.explanation))
            conf = max(0, result.confidence - SUPPLIER_PENALTY)
            col.add(dependent_id, "supplier", supplier, asset_id, conf, text)
