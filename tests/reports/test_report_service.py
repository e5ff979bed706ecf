"""Reports: create, TLP visibility, approval freezes HTML/PDF (SHA-256), the PDF read back with pdftotext."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import date

import pytest
from sqlalchemy import select

from certmon.errors import Conflict, NotFound, ValidationFailed
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.reports import service
from certmon.reports.models import Report
from certmon.sources.models import Source
from certmon.tlp import TLP
from tests.conftest import CertmonEnv
from tests.reports.conftest import PERIOD, RED_TITLE, STRICT_TITLE, plant

ASSESSMENT = ("Trusselnivået mot sektoren er forhøyet. Særlig kommunene i Vestland og Tromsø bør følge opp.\n\n"
              "- Patch VPN-løsninger <script>alert(1)</script>\n- Øk overvåkingen")


def _pdf_text(pdf: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is missing; `make system-deps` installs it"
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_approve_freezes_the_documents_and_the_pdf_reads_back(sqlite_env: CertmonEnv, tmp_path):
    with sqlite_env.factory.begin() as session:
        plant(session)
        report = service.create_report(session, actor="ola@cert.invalid", period=PERIOD,
                                       title="Situasjonsbilde uke 47 – Ærøy, Østfold og Ålesund",
                                       assessment=ASSESSMENT)
        assert report.tlp == "amber" and report.status == "draft"
        service.approve_report(session, report=report, actor="kari@cert.invalid")
        report_id, pdf, html = report.id, report.pdf, report.html
    assert pdf is not None and html is not None
    text = _pdf_text(pdf, tmp_path)
    pages = text.count("\f")
    assert "Situasjonsbilde uke 47 – Ærøy, Østfold og Ålesund" in " ".join(text.split())
    assert "Trusselnivået mot sektoren er forhøyet" in text and "Øk overvåkingen" in text
    assert text.count("TLP:AMBER") >= 2 * pages >= 2  # top and bottom of every page
    assert "TLP:RED" not in text.replace("TLP:RED er", "").replace("TLP:RED tas", "")
    assert RED_TITLE not in text and STRICT_TITLE not in text
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Sammendrag" in text and "Berørte virksomheter" in text and "UTKAST" not in text

    with sqlite_env.factory.begin() as session:  # new data after approval changes nothing archived
        source_id = session.scalar(select(Source.id).where(Source.name == "report-test"))
        upsert_items(session, source_id=source_id, items=[Item(
            kind="advisory", key="late", tlp="clear", source_format="rss", title="Sen",
            published="2026-11-18T08:00:00Z")])
    with sqlite_env.factory.begin() as session:
        stored = session.get(Report, report_id)
        assert stored is not None
        again = service.rendered(session, stored, pdf=True)
        assert again.pdf == pdf and again.html == html
        assert stored.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
        assert stored.html_sha256 == hashlib.sha256(html.encode()).hexdigest()
        assert stored.figures is not None and stored.figures["advisories"]["current"] == 4
        assert service.live_figures(session, stored).advisories.current == 5
        with pytest.raises(Conflict):
            service.update_report(session, report=stored, actor="x", assessment="endret")
        with pytest.raises(Conflict):
            service.approve_report(session, report=stored, actor="x")


def test_draft_html_is_marked_and_escaped(sqlite_env: CertmonEnv):
    with sqlite_env.factory.begin() as session:
        plant(session)
        report = service.create_report(session, actor="a", period=PERIOD, tlp="green",
                                       assessment='<img src=x onerror="alert(1)"> & mer')
        html = service.rendered(session, report).html
    assert "UTKAST" in html and "TLP:GREEN" in html and "TLP:AMBER" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; mer" in html
    assert "<svg" in html and "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "uke 47 2026" in html and "Sårbarhet" in html


def test_readers_never_see_reports_above_their_clearance(sqlite_env: CertmonEnv):
    with sqlite_env.factory.begin() as session:
        amber = service.create_report(session, actor="a", period=PERIOD)
        strict = service.create_report(session, actor="a", period="2026-11", tlp="amber+strict")
        ids = amber.id, strict.id
    with sqlite_env.factory.begin() as session:
        rows, total = service.list_reports(session, clearance=TLP.AMBER)
        assert [r.id for r in rows] == [ids[0]] and total == 1
        assert service.list_reports(session, clearance=TLP.RED)[1] == 2
        assert service.list_reports(session, clearance=TLP.GREEN)[1] == 0
        with pytest.raises(NotFound):
            service.get_report(session, report_id=ids[1], clearance=TLP.AMBER)
        assert service.get_report(session, report_id=ids[1], clearance=TLP.RED).tlp_max == "amber+strict"


def test_invalid_input_is_refused(sqlite_env: CertmonEnv):
    with sqlite_env.factory.begin() as session:
        with pytest.raises(ValidationFailed, match="TLP:RED"):
            service.create_report(session, actor="a", period=PERIOD, tlp="red")
        with pytest.raises(ValidationFailed):
            service.create_report(session, actor="a", period="2026-W60")
        with pytest.raises(ValidationFailed):
            service.create_report(session, actor="a")
        custom = service.create_report(session, actor="a", first_day=date(2026, 11, 1), last_day=date(2026, 11, 15))
        assert custom.period_key == "2026-11-01..2026-11-15" and custom.period_kind == "custom"
        assert custom.title == "Situasjonsbilde 01.11.2026–15.11.2026"
