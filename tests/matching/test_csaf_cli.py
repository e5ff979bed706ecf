"""`certmon parse` + `certmon match` from the CLI on real CSAF documents: the declared affected, nobody else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

REAL = FIXTURES / "csaf" / "real"
OSLO, EIGERSUND, BERGEN, STAVANGER = "958935420", "944496394", "964338531", "964965226"
BAXTER = "Baxter:Welch Allyn Product Configuration Tool"


def certmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certmon.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update(CERTMON_DATA_DIR=str(tmp_path / "data"), CERTMON_SECRET_KEY="test-secret")
    assert certmon("db", "upgrade", env=env).returncode == 0
    assert certmon("registry", "seed", env=env).returncode == 0
    return env


@pytest.mark.parametrize(("doc", "inventory", "expected"), [
    # BSI: 1.0.0-alpha … rc1 known affected; rc2 fixed and first_fixed (so 1.0.0 is fixed too)
    ("oasis-2.0/bsi-2022-0001.json",
     {OSLO: "CSAF Tools:CVRF-CSAF-Converter:1.0.0-alpha", EIGERSUND: "CSAF Tools:CVRF-CSAF-Converter:1.0.0-rc2",
      BERGEN: "CSAF Tools:CVRF-CSAF-Converter:1.0.0", STAVANGER: "CSAF Tools:CVRF-CSAF-Converter:0.9"},
     {OSLO: "affected"}),
    # the same document in CSAF 2.1
    ("oasis-2.1/bsi-2022-0001.json",
     {OSLO: "CSAF Tools:CVRF-CSAF-Converter:1.0.0-dev2", BERGEN: "CSAF Tools:CVRF-CSAF-Converter:1.0.1"},
     {OSLO: "affected"}),
    # a VEX document: Secvisogram <=1.14.0 known not affected (component_not_present)
    ("oasis-2.0/sec-vex-2022-0001.json", {OSLO: "Secvisogram:Secvisogram:1.11.0"}, {}),
    # CISA ICS medical: Baxter Welch Allyn Product Configuration Tool <=1.9.4.1 affected
    ("cisa/icsma-24-151-01.json",
     {OSLO: f"{BAXTER}:1.9.4", BERGEN: f"{BAXTER}:1.9.5", EIGERSUND: BAXTER},
     {OSLO: "affected", EIGERSUND: "affected"}),
    # under investigation: a possible match only
    ("oasis-2.0/2022-evd-uc-01-ui-001.json", {OSLO: "Example Company:GHI:17.4", BERGEN: "Example Company:GHI:17.3"},
     {OSLO: "under_investigation"}),
])
def test_parse_then_match(cli_env: dict[str, str], tmp_path: Path, doc: str, inventory: dict[str, str],
                          expected: dict[str, str]) -> None:
    path = REAL / doc
    if not path.exists():
        path = FIXTURES / "csaf" / Path(doc).name
    assets = tmp_path / "assets.csv"
    assets.write_text("org_number,asset_type,value\n" + "".join(f"{org},product,{value}\n" for org, value in
                                                                 inventory.items()), encoding="utf-8")
    imported = certmon("assets", "import", str(assets), env=cli_env)
    assert imported.returncode == 0, imported.stderr
    parsed = certmon("parse", "--format", "csaf", str(path), env=cli_env)
    assert parsed.returncode == 0, parsed.stderr
    items = tmp_path / "items.jsonl"
    items.write_text(parsed.stdout, encoding="utf-8")
    matched = certmon("match", str(items), env=cli_env)
    assert matched.returncode == 0, matched.stderr
    got = {m["org_number"]: m.get("status", "affected") for m in map(json.loads, matched.stdout.splitlines())
           if m["rule"] == "product"}
    assert got == expected
