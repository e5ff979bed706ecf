"""Organisation numbers (MOD11), municipality numbers and domain normalisation."""

import pytest

from certmon.registry.validation import (
    municipality_number_problem,
    normalise_domain,
    normalise_org_number,
    org_number_problem,
)


@pytest.mark.parametrize("org", ["958935420", "964338531", "983974724", "974761394"])
def test_valid_org_numbers(org):
    assert org_number_problem(org) is None


@pytest.mark.parametrize(("org", "why"), [
    ("958935421", "MOD11"), ("95893542", "9 siffer"), ("95893542x", "9 siffer"), ("", "9 siffer"),
])
def test_invalid_org_numbers(org, why):
    assert why in org_number_problem(org)


def test_check_digit_ten_is_never_valid():
    # weights 3,2,7,6,5,4,3,2 over 00000001 give 2 → 11-2 = 9; search one whose check digit would be 10
    candidates = [f"{n:08d}" for n in range(100000, 100200)]
    tens = [c for c in candidates if 11 - sum(int(d) * w for d, w in zip(c, (3, 2, 7, 6, 5, 4, 3, 2))) % 11 == 10]
    assert tens
    for base in tens[:3]:
        assert all(org_number_problem(base + str(d)) for d in range(10))


def test_normalise_org_number():
    assert normalise_org_number("NO 958 935 420 MVA") == "958935420"


@pytest.mark.parametrize(("knr", "ok"), [("0301", True), ("4601", True), ("3001", False), ("460", False)])
def test_municipality_numbers(knr, ok):
    assert (municipality_number_problem(knr) is None) is ok


def test_normalise_domain():
    assert normalise_domain("https://www.Bærum.kommune.no/tjenester/") == "xn--brum-voa.kommune.no"
    assert normalise_domain("Oslo.Kommune.NO.") == "oslo.kommune.no"
