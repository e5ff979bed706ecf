"""Shared helpers for the matching tests: tiny registries and item builders (imported by name)."""

from __future__ import annotations

from typing import Any

import pytest

from certmon.items.schemas import Item
from certmon.matching import AssetRef, ConstituentRef, MatchEngine, RegistrySnapshot


def indicator(kind: str, value: str, key: str | None = None, **extra: Any) -> Item:
    """An indicator item."""
    return Item(kind="indicator", key=key or f"{kind}:{value}", tlp="clear", source_format="test",
                type=kind, value=value, **extra)


def advisory(title: str = "", key: str = "adv-1", **extra: Any) -> Item:
    """An advisory item."""
    return Item(kind="advisory", key=key, tlp="clear", source_format="test", title=title, **extra)


def engine_for(constituents: list[ConstituentRef], assets: list[tuple[int, str, str]]) -> MatchEngine:
    """Engine over the constituents and (constituent_id, type, value) assets."""
    refs = [AssetRef(i + 1, cid, kind, value) for i, (cid, kind, value) in enumerate(assets)]
    return MatchEngine.build(RegistrySnapshot("test", constituents, refs))


OSLO = ConstituentRef(1, "958935420", "Oslo", "kommune", ("Oslo kommune",))
BERGEN = ConstituentRef(2, "964338531", "Bergen kommune", "kommune")
HELSE_BERGEN = ConstituentRef(3, "983974724", "Helse Bergen HF", "hf")
VISMA = ConstituentRef(4, "980221687", "Visma", "other")
NES = ConstituentRef(5, "964950113", "Nes", "kommune")
OSTRE_TOTEN = ConstituentRef(6, "971028300", "Østre Toten", "kommune")
BO = ConstituentRef(7, "964963193", "Bø", "kommune")
INNLANDET = ConstituentRef(8, "983971709", "Sykehuset Innlandet HF", "hf")
OS = ConstituentRef(9, "964338442", "Os", "kommune")

ALL = [OSLO, BERGEN, HELSE_BERGEN, VISMA, NES, OSTRE_TOTEN, BO, INNLANDET, OS]


@pytest.fixture
def engine() -> MatchEngine:
    """A small registry exercising every rule."""
    return engine_for(ALL, [
        (2, "network", "203.0.113.0/24"),
        (1, "network", "203.0.0.0/16"),
        (1, "network", "203.0.113.0/28"),
        (1, "network", "2001:db8::/32"),
        (3, "network", "2001:db8:42::/48"),
        (1, "domain", "oslo.kommune.no"),
        (2, "domain", "bergen.kommune.no"),
        (7, "domain", "bø.kommune.no"),
        (4, "domain", "visma.no"),
        (1, "email_domain", "oslo.kommune.no"),
        (2, "asn", "AS64500"),
        (3, "product", "fortinet:fortios:>=7.0,<7.2.5"),
        (8, "product", "cpe:2.3:a:microsoft:exchange_server:2019:*:*:*:*:*:*:*"),
        (1, "product", "Microsoft Corporation:Exchange Server"),
        (2, "supplier", "4"),
        (3, "supplier", "4"),
    ])
