"""The bundled real registry loads completely, once, with Oslo's double role and Haram flagged."""

from sqlalchemy import func, select

from certmon.registry.models import Asset, Constituent
from certmon.registry.seed import seed_registry
from certmon.registry.service import list_constituents


def test_seed_counts_and_roles(any_env):
    with any_env.factory.begin() as session:
        _, kommuner = list_constituents(session, kind="kommune", limit=1)
        _, fylker = list_constituents(session, kind="fylkeskommune", limit=1)
        _, rhf = list_constituents(session, kind="rhf", limit=1)
        _, hf = list_constituents(session, kind="hf", limit=1)
        total = session.scalar(select(func.count(Constituent.id)))
        oslo = session.scalar(select(Constituent).where(Constituent.org_number == "958935420"))
        haram = session.scalar(select(Constituent).where(Constituent.municipality_number == "1580"))
        bergen_hf = session.scalar(select(Constituent).where(Constituent.name == "Helse Bergen HF"))
        vest = session.get(Constituent, bergen_hf.parent_id)
    assert (kommuner, fylker, rhf, hf) == (357, 15, 4, 24)
    assert total == 357 + 14 + 32  # Oslo is one organisation in two roles
    assert oslo.role_names == ["fylkeskommune", "kommune"]
    assert haram.org_number is None and haram.needs_org_number
    assert vest.name == "Helse Vest RHF"


def test_seed_is_idempotent_and_keeps_filled_in_org_number(sqlite_env):
    with sqlite_env.factory.begin() as session:
        haram = session.scalar(select(Constituent).where(Constituent.municipality_number == "1580"))
        haram.org_number = "964980810"
        haram.needs_org_number = False
    with sqlite_env.factory.begin() as session:
        report = seed_registry(session)
        assets = session.scalar(select(func.count(Asset.id)))
        haram = session.scalar(select(Constituent).where(Constituent.municipality_number == "1580"))
    assert report.created == 0
    assert haram.org_number == "964980810" and not haram.needs_org_number
    with sqlite_env.factory.begin() as session:
        seed_registry(session)
        assert session.scalar(select(func.count(Asset.id))) == assets
