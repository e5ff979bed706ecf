"""CSV imports are all-or-nothing and name every bad row."""

import pytest
from sqlalchemy import func, select

from certmon.errors import ValidationFailed
from certmon.registry.assets import import_assets
from certmon.registry.models import Asset, Constituent
from certmon.registry.service import import_constituents

GOOD = "org_number,name,kind,county_number,region,website\n" \
       "994598759,Norsk helsenett SF,other,,Nasjonal,https://www.nhn.no/\n" \
       "921 707 134,Agder fylkeskommune,fylkeskommune,42,,\n"


def test_import_constituents(sqlite_env):
    with sqlite_env.factory.begin() as session:
        report = import_constituents(session, GOOD)
        nhn = session.scalar(select(Constituent).where(Constituent.org_number == "994598759"))
    assert (report.created, report.updated) == (0, 2)
    assert nhn.website == "nhn.no"


def test_bad_file_names_every_row_and_imports_nothing(sqlite_env):
    bad = ("org_number,name,kind,municipality_number\n"
           "123456789,Feil kontrollsiffer,kommune,\n"
           "999999999,,fylke,\n"
           "810000007,Ny virksomhet,other,9999\n"
           "810000007,Dobbel,other,\n")
    with sqlite_env.factory() as session:
        before = session.scalar(select(func.count(Constituent.id)))
        with pytest.raises(ValidationFailed) as info:
            import_constituents(session, bad)
        session.rollback()
        assert session.scalar(select(func.count(Constituent.id))) == before
    problems = info.value.problems
    assert any(p.startswith("rad 2, org_number") and "MOD11" in p for p in problems)
    assert any(p.startswith("rad 3, name") for p in problems)
    assert any(p.startswith("rad 3, kind") for p in problems)
    assert any(p.startswith("rad 4, municipality_number") for p in problems)
    assert any(p.startswith("rad 5, org_number") and "rad 4" in p for p in problems)


def test_missing_column(sqlite_env):
    with sqlite_env.factory() as session, pytest.raises(ValidationFailed, match="mangler kolonne"):
        import_constituents(session, "org_number,name\n958935420,Oslo\n")


def test_assets_import_all_or_nothing(sqlite_env):
    text = ("org_number,asset_type,value\n"
            "964338531,network,192.0.2.0/24\n"
            "964338531,network,192.0.2.7/24\n"
            "964338531,domain,demo-bergen.example\n"
            "964338531,asn,AS64496\n"
            "964338531,supplier,983974724\n"
            "111111111,domain,x.example\n"
            "964338531,router,10.0.0.1\n")
    with sqlite_env.factory() as session:
        with pytest.raises(ValidationFailed) as info:
            import_assets(session, text)
        session.rollback()
        assert session.scalar(select(func.count(Asset.id)).where(Asset.value == "192.0.2.0/24")) == 0
    problems = "\n".join(info.value.problems)
    assert "rad 3, value" in problems and "vertsbiter" in problems
    assert "rad 7, org_number" in problems
    assert "rad 8, asset_type" in problems
    good = "\n".join(text.splitlines()[:2] + text.splitlines()[3:6]) + "\n"
    with sqlite_env.factory.begin() as session:
        report = import_assets(session, good)
    assert report.created == 4


def test_filling_in_a_missing_org_number_by_municipality_number(sqlite_env):
    from certmon.registry.validation import org_number_problem

    org = next(f"81000{n:04d}" for n in range(100) if org_number_problem(f"81000{n:04d}") is None)
    text = f"org_number,name,kind,municipality_number\n{org},Haram,kommune,1580\n"
    with sqlite_env.factory.begin() as session:
        report = import_constituents(session, text)
        haram = session.scalar(select(Constituent).where(Constituent.municipality_number == "1580"))
    assert (report.created, report.updated) == (0, 1)
    assert haram.org_number == org and not haram.needs_org_number
    clash = "org_number,name,kind,municipality_number\n958935420,Oslo,kommune,4601\n"
    with sqlite_env.factory() as session, pytest.raises(ValidationFailed) as info:
        import_constituents(session, clash)
    assert any("rad 2, municipality_number: 4601 tilhører allerede Bergen" in p for p in info.value.problems)
