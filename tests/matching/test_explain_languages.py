"""Match explanations in the reader's language: stored in bokmål, read back and filled in nn or en.

The sentences come from the real rules (the matcher on real registry-shaped constituents, the product
judge on CSAF-shaped claims); the e-mail test goes through queue_alerts, plan_delivery and
build_message as delivery does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from certmon.config import Settings
from certmon.db import make_engine
from certmon.dbops import upgrade
from certmon.i18n import translations
from certmon.items.models import StoredItem
from certmon.matching import explain as ex
from certmon.matching.explain import explain, localise, read_back, templates
from certmon.matching.models import Match
from certmon.notify.compose import build_message
from certmon.notify.content import plan_delivery
from certmon.notify.models import Delivery
from certmon.notify.outbox import queue_alerts
from tests.notify.notify_helpers import make_constituent, make_contact, make_source

OWNERS = ["Tromsø kommune", "Helse Nord RHF", "Vestland fylkeskommune", "Sykehuset i Vestfold HF",
          "Nord-Aurdal kommune", "Kautokeino gielda – Guovdageainnu suohkan"]
FIELDS = re.compile(r"\{(\w+)\}")


def _bokmal_words(language: str) -> set[str]:
    """Words of the bokmål templates that neither the other language nor the values use."""
    nb = set(re.findall(r"[a-zæøå]{5,}", " ".join(templates("nb").values()).lower()))
    other = set(re.findall(r"[a-zæøå]{5,}", " ".join(templates(language).values()).lower()))
    return nb - other - {w.lower() for o in OWNERS for w in o.split()}


def test_every_message_is_translated_in_both_norwegian_catalogues() -> None:
    messages = [*ex.TEMPLATES.values(), ex.CVES, ex.MORE, ex.ALL_VERSIONS, ex.PLATFORM, ex.WHY,
                *ex.RELATIONS.values(), *ex.JUSTIFICATIONS.values()]
    for language in ("nb", "nn"):
        catalogue = translations(language)
        missing = [m for m in messages if m not in catalogue._catalog]  # type: ignore[attr-defined]
        assert not missing, (language, missing)
        for message in messages:  # the same fields, or a value would be lost or a KeyError raised
            assert sorted(FIELDS.findall(catalogue.gettext(message))) == sorted(FIELDS.findall(message)), message
    assert templates("nn")["ip-network"] != templates("nb")["ip-network"]


values = st.fixed_dictionaries({
    "ip": st.sampled_from(["192.0.2.17", "2001:db8::5"]),
    "network": st.sampled_from(["192.0.2.0/24", "2001:db8::/48", "198.51.100.0/22"]),
    "cidr": st.sampled_from(["192.0.2.128/25", "10.0.0.0/8"]),
    "url": st.sampled_from(["https://login.tromso.kommune.no/a?b=c", "http://192.0.2.17:8080/x"]),
    "domain": st.sampled_from(["vpn.tromso.kommune.no", "helse-nord.no", "xn--smland-cua.no"]),
    "registered": st.sampled_from(["tromso.kommune.no", "helse-nord.no"]),
    "email": st.sampled_from(["post@tromso.kommune.no", "ola.nordmann@helse-nord.no"]),
    "asn": st.sampled_from(["224", "39832"]),
    "owner": st.sampled_from(OWNERS),
    "supplier": st.sampled_from(["Visma", "IKT Orkide", "Tieto Evry Norway AS"]),
    "product": st.sampled_from(["Fortinet FortiOS", "Cisco IOS XE Software", "Microsoft Exchange Server 2019",
                                "Siemens SIMATIC S7-1500 (installert på SIMATIC ET 200SP)"]),
    "inventory": st.sampled_from(["FortiOS 7.2.4", "Exchange Server 2019 CU12", "IOS XE 17.9.3a"]),
    "versions": st.sampled_from(["vers:generic/>=7.2.0|<7.2.5", "< 15.2(4)E10", "17.9.3a", "alle versjoner"]),
    "cves": st.sampled_from(["", " – gjelder CVE-2024-21762", " – gjelder CVE-2024-1, CVE-2024-2, CVE-2024-3, "
                             "CVE-2024-4, CVE-2024-5, CVE-2024-6 m.fl."]),
    "why": st.sampled_from(["", " (den sårbare koden finnes ikke)", " (komponenten finnes ikke)"]),
    "list": st.sampled_from(["CVE-2023-4966", "CVE-2024-1, CVE-2024-2, CVE-2024-3, CVE-2024-4, CVE-2024-5, "
                             "CVE-2024-6 m.fl"]),
    "text": st.sampled_from(["Tromsø", "Helse Nord"]),
    "reason": st.sampled_from(["Domenet vpn.visma.no er registrert på Visma",
                               "IP-adressen 192.0.2.17 ligger i nettverket 192.0.2.0/24 som er registrert på Visma"]),
})


@given(key=st.sampled_from(sorted(ex.TEMPLATES)), given_values=values)
def test_a_stored_sentence_reads_back_and_fills_each_language(key: str, given_values: dict[str, str]) -> None:
    wanted = set(FIELDS.findall(ex.TEMPLATES[key]))
    sentence = explain(key, **{k: v for k, v in given_values.items() if k in wanted})
    assert localise(sentence, "nb") == sentence
    found = read_back(sentence)
    assert found is not None and templates()[found[0]].format(**found[1]) == sentence
    for language in ("nn", "en"):
        out = localise(sentence, language)
        assert out != sentence or templates(language)[key] == templates("nb")[key], (language, sentence)
        assert not {w for w in re.findall(r"[a-zæøå]{5,}", out.lower())} & _bokmal_words(language), out
        for kept in ("owner", "inventory", "ip", "domain", "url", "email"):  # the facts stay as they are
            if kept in wanted:
                assert given_values[kept] in out
    en = localise(sentence, "en")
    if "cves" in wanted and given_values["cves"]:
        assert " – concerns CVE-" in en and ("and more" in en) == ("m.fl." in given_values["cves"])
    if "why" in wanted and given_values["why"]:
        assert "(the vulnerable code is not present)" in en or "(the component is not present)" in en
    if key == "supplier":
        assert en.endswith("which is affected (" + localise(given_values["reason"] + ".", "en")[:-1] + ").")


def test_a_sentence_that_fits_no_template_is_shown_as_stored() -> None:
    for text in ("Adressen 192.0.2.1 ligger i nettet 192.0.2.0/24.", "", "Fritekst fra en eldre versjon."):
        assert localise(text, "en") == text and localise(text, "nn") == text


def test_the_product_judge_sentences_translate_with_their_fragments() -> None:
    from certmon.items.schemas import Product
    from certmon.matching.products import Verdict
    from certmon.matching.rules import product_sentence

    claim = Product(vendor="Siemens", product="SIMATIC S7-1500", range="vers:generic/<3.1.4",
                    platform="SIMATIC ET 200SP", relation="installed_on", status="not_affected",
                    justification="vulnerable_code_not_in_execute_path")
    cleared = Verdict(claim=claim, status="not_affected", how="point", confidence=0,
                      cves=tuple(f"CVE-2025-{n}" for n in range(1, 9)))
    nb = product_sentence(cleared, "SIMATIC S7-1500 3.0", "Helse Nord RHF")
    assert "(installert på SIMATIC ET 200SP)" in nb and "(den sårbare koden kjøres ikke)" in nb and "m.fl." in nb
    en = localise(nb, "en")
    assert en == ("The vendor states that Siemens SIMATIC S7-1500 (installed on SIMATIC ET 200SP) "
                  "vers:generic/<3.1.4 is not affected (the vulnerable code is not executed) – concerns "
                  "CVE-2025-1, CVE-2025-2, CVE-2025-3, CVE-2025-4, CVE-2025-5, CVE-2025-6 and more; "
                  "Helse Nord RHF has «SIMATIC S7-1500 3.0».")
    nn = localise(nb, "nn")
    assert "ikkje er råka (den sårbare koden blir ikkje køyrd) – gjeld CVE-2025-1" in nn and "m.fl.;" in nn
    unversioned = Verdict(claim=Product(vendor="", product="FortiOS"), status="affected", how="unversioned",
                          confidence=50, cves=("CVE-2024-21762",))
    sentence = product_sentence(unversioned, "FortiOS", "Tromsø kommune")
    assert sentence.endswith("(versjonen er ikke sammenlignet). Gjelder CVE-2024-21762.")
    assert localise(sentence, "en").endswith("(the version has not been compared). Concerns CVE-2024-21762.")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('explain') / 'certmon.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_each_recipient_reads_why_in_their_own_language(engine: Engine, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr("test-secret-" + "x" * 32),
                        mail_from="varsel@kommunecert.no", base_url="https://certmon.example.no")
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        place = make_constituent(session, "Tromsø kommune")
        for language in ("nb", "nn", "en"):
            make_contact(session, place, f"{language}@tromso.kommune.no", language=language, tlp_max="amber")
        source = make_source(session)
        item = StoredItem(source_id=source.id, kind="indicator", key="why-1", tlp="green", tlp_rank=1,
                          indicator_type="ipv4", value="192.0.2.17", content_hash="e" * 32,
                          data={"value": "192.0.2.17"})
        session.add(item)
        session.flush()
        match = Match(item_id=item.id, constituent_id=place.id, rule="ip-network", asset="192.0.2.0/24",
                      confidence=95, severity="high", status="new",
                      explanation=explain("ip-network", ip="192.0.2.17", network="192.0.2.0/24",
                                          owner="Tromsø kommune"))
        session.add(match)
        session.flush()
        queue_alerts(session, match_ids=[match.id], now=datetime(2026, 12, 6, 12, tzinfo=UTC))
        bodies = {}
        for delivery in session.scalars(select(Delivery).where(Delivery.email.like("%@tromso.kommune.no"))):
            planned = plan_delivery(session, delivery, settings)
            assert planned.content is not None
            msg = build_message(planned.content, to=delivery.email, mail_from=settings.mail_from,
                                message_id="<t@kommunecert.no>", date=datetime(2026, 12, 6, tzinfo=UTC))
            text = msg.get_body(("plain",))
            assert text is not None
            parts = [p.get_content() for p in msg.iter_attachments()]
            csv = "".join(c.decode() if isinstance(c, bytes) else c for c in parts)
            bodies[delivery.language] = (text.get_content(), csv)
        session.rollback()
    assert "Hvorfor dere: IP-adressen 192.0.2.17 ligger i nettverket 192.0.2.0/24 som er registrert på " \
           "Tromsø kommune." in bodies["nb"][0]
    assert "Kvifor dykk: IP-adressa 192.0.2.17 ligg i nettverket 192.0.2.0/24, som er registrert på " \
           "Tromsø kommune." in bodies["nn"][0]
    assert "Why you: The IP address 192.0.2.17 is in the network 192.0.2.0/24, which is registered to " \
           "Tromsø kommune." in bodies["en"][0]
    assert "The IP address 192.0.2.17 is in the network" in bodies["en"][1]  # the CSV attachment too
