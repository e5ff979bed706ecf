"""A later revision of the same CSAF advisory: fixed / not affected retires the open match, added products match.

Revision 1 is the CSAF standard's VEX use case 1 "affected" (Example Company DEF 1.0); later revisions
are that document with its tracking version raised and its product status changed, as a vendor does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import select

from certmon.matching.models import Match
from certmon.notify.models import NotificationMatch
from certmon.registry.models import Asset, Constituent
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.collect import run_source
from feeds.collect_types import Document
from tests.conftest import FIXTURES

DOC = json.loads((FIXTURES / "csaf/real/oasis-2.0/2022-evd-uc-01-a-001.json").read_bytes())


def revision(number: int, status: dict[str, list[str]], extra_versions: tuple[str, ...] = ()) -> bytes:
    doc: dict[str, Any] = copy.deepcopy(DOC)
    doc["document"]["tracking"]["version"] = str(number)
    doc["document"]["tracking"]["revision_history"].append(
        {"date": f"2022-03-0{number + 3}T11:00:00.000Z", "number": str(number), "summary": "Status changed."})
    versions = doc["product_tree"]["branches"][0]["branches"][0]["branches"]
    for n, v in enumerate(extra_versions, start=2):
        versions.append({"category": "product_version", "name": v,
                         "product": {"name": f"Example Company DEF {v}", "product_id": f"CSAFPID-000{n}"}})
    doc["vulnerabilities"][0]["product_status"] = status
    if "known_not_affected" in status:
        doc["vulnerabilities"][0]["flags"] = [{"label": "vulnerable_code_not_in_execute_path",
                                               "product_ids": status["known_not_affected"]}]
    return json.dumps(doc).encode()


def test_later_revision_retires_and_adds(any_env) -> None:
    with any_env.factory.begin() as s:
        orgs = []
        for n, version in enumerate(("1.0", "1.1", "2.0"), start=1):
            c = Constituent(name=f"Testkommune {n}", kind="kommune", org_number=f"99999999{n}")
            s.add(c)
            s.flush()
            s.add(Asset(constituent_id=c.id, type="product", value=f"Example Company:DEF:{version}"))
            orgs.append(c.id)
        source_id = create_source(s, SourceCreate(name="vendor-csaf", format="csaf",
                                                  url="https://psirt.example.com/csaf")).id

    def run(data: bytes) -> dict[int, Match]:
        report = run_source(any_env.factory, source_id, documents=[Document(data, "advisory.json")])
        assert report.outcome == "ok", report.error
        with any_env.factory() as s:
            return {m.constituent_id: m for m in s.scalars(select(Match).where(Match.rule == "product"))}

    first = run(revision(1, {"known_affected": ["CSAFPID-0001"]}))
    assert set(first) == {orgs[0]} and first[orgs[0]].status == "new"
    assert first[orgs[0]].product_status == "affected"

    # revision 2: 1.0 is not affected after all (VEX), 1.1 is under investigation
    second = run(revision(2, {"known_not_affected": ["CSAFPID-0001"], "under_investigation": ["CSAFPID-0002"]},
                          ("1.1",)))
    old = second[orgs[0]]
    assert old.status == "retired" and "ikke er berørt" in (old.status_reason or "")
    assert "den sårbare koden kjøres ikke" in (old.status_reason or "") and "revisjon 2" in (old.status_reason or "")
    possible = second[orgs[1]]
    assert possible.product_status == "under_investigation" and possible.confidence <= 40
    assert "sendes ikke automatisk" in possible.explanation

    # revision 3: 2.0 is added as affected; 1.1 turns out fixed
    third = run(revision(3, {"known_not_affected": ["CSAFPID-0001"], "fixed": ["CSAFPID-0002"],
                             "known_affected": ["CSAFPID-0003"]}, ("1.1", "2.0")))
    assert third[orgs[0]].status == "retired"
    assert third[orgs[1]].status == "retired" and "rettet" in (third[orgs[1]].status_reason or "")
    assert third[orgs[2]].status == "new" and third[orgs[2]].product_status == "affected"
    with any_env.factory() as s:  # nothing retired or possible was queued for an alert
        queued = set(s.scalars(select(NotificationMatch.match_id)))
    assert old.id not in queued and possible.id not in queued
