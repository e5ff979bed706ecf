"""The console script as an operator meets it: help everywhere, one-line errors, exit status 2."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES

CERTMON = [sys.executable, "-m", "certmon.cli"]


def certmon(*args, env, stdin=None):
    """Run the real console script in a subprocess."""
    return subprocess.run([*CERTMON, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update(CERTMON_DATA_DIR=str(tmp_path / "data"), CERTMON_SECRET_KEY="test-secret")
    return env


def test_help_on_every_command(cli_env):
    top = certmon("--help", env=cli_env)
    assert top.returncode == 0
    for group in ("db", "registry", "assets", "sources", "advisories", "users", "contacts", "notify",
                  "incidents", "reports", "export"):
        r = certmon(group, "--help", env=cli_env)
        assert r.returncode == 0, (group, r.stderr)
    for cmd in (["parse"], ["match"], ["ingest"], ["serve"], ["registry", "import"], ["sources", "add"],
                ["users", "create"], ["notify", "flush"], ["contacts", "import"], ["export", "indicators"],
                ["users", "password-link"]):
        r = certmon(*cmd, "--help", env=cli_env)
        assert r.returncode == 0 and r.stdout.startswith("Bruk: certmon"), (cmd, r.stderr)


def test_missing_schema_is_one_line(cli_env):
    r = certmon("registry", "seed", env=cli_env)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "certmon db upgrade" in r.stderr


def test_unreachable_database_is_one_line(cli_env):
    env = dict(cli_env, CERTMON_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none")
    r = certmon("db", "upgrade", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "database" in r.stderr.lower()


def test_invalid_setting_names_the_variable(cli_env):
    r = certmon("db", "current", env=dict(cli_env, CERTMON_PORT="eighty"))
    assert r.returncode == 2 and "CERTMON_PORT" in r.stderr and "Traceback" not in r.stderr


def test_seed_import_and_list(cli_env, tmp_path):
    assert certmon("db", "upgrade", env=cli_env).returncode == 0
    seeded = certmon("registry", "seed", env=cli_env)
    assert seeded.returncode == 0 and "403 nye" in seeded.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("org_number,name,kind\n123456789,Feil,kommune\n958935420,Oslo,by\n", encoding="utf-8")
    r = certmon("registry", "import", str(bad), env=cli_env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "rad 2, org_number" in r.stderr and "rad 3, kind" in r.stderr
    listed = certmon("registry", "list", "--kind", "kommune", "--limit", "2", env=cli_env)
    assert "2 av 357" in listed.stdout


def test_parse_prints_json_lines_and_rejects_garbage(cli_env, tmp_path):
    r = certmon("parse", "--format", "rss", str(FIXTURES / "rss" / "us-cert_bulletins_2016-01-06.rss.xml"),
                env=cli_env)
    assert r.returncode == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 10 and all(row["kind"] == "advisory" and row["tlp"] == "clear" for row in rows)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 not a feed")
    r = certmon("parse", "--format", "auto", str(garbage), env=cli_env)
    assert r.returncode == 2 and "garbage.bin" in r.stderr and "Traceback" not in r.stderr
    r = certmon("parse", "--format", "stix", str(tmp_path / "missing.json"), env=cli_env)
    assert r.returncode == 2 and "finnes ikke" in r.stderr


def test_users_create_reads_password_from_stdin(cli_env):
    certmon("db", "upgrade", env=cli_env)
    r = certmon("users", "create", "--email", "ola@test.invalid", "--role", "analyst", env=cli_env,
                stdin="hemmelig-passord\n")
    assert r.returncode == 0, r.stderr
    assert "hemmelig" not in r.stdout + r.stderr
    short = certmon("users", "create", "--email", "kari@test.invalid", "--role", "analyst", env=cli_env,
                    stdin="kort\n")
    assert short.returncode == 2 and "8 tegn" in short.stderr


def test_users_create_constituent_user_for_an_organisation(cli_env):
    certmon("db", "upgrade", env=cli_env)
    certmon("registry", "seed", env=cli_env)
    args = ("users", "create", "--email", "sikkerhet@test.invalid", "--role", "constituent")
    missing = certmon(*args, env=cli_env, stdin="hemmelig-passord\n")
    assert missing.returncode == 2 and "--org" in missing.stderr and "Traceback" not in missing.stderr
    unknown = certmon(*args, "--org", "123456789", env=cli_env, stdin="hemmelig-passord\n")
    assert unknown.returncode == 2 and "123456789" in unknown.stderr
    ok = certmon(*args, "--org", "964338531", env=cli_env, stdin="hemmelig-passord\n")  # Bergen kommune
    assert ok.returncode == 0 and "964338531" in ok.stdout, ok.stderr
    invited = certmon("users", "create", "--email", "ny@test.invalid", "--role", "constituent", "--org", "964338531",
                      "--invite", env=cli_env)
    assert invited.returncode == 0 and "/passord/" in invited.stdout, invited.stderr
    reset = certmon("users", "password-link", "--email", "sikkerhet@test.invalid", env=cli_env)
    assert reset.returncode == 0 and "/passord/" in reset.stdout
    nobody = certmon("users", "password-link", "--email", "ingen@test.invalid", env=cli_env)
    assert nobody.returncode == 2 and "ingen@test.invalid" in nobody.stderr


def test_match_file(cli_env, tmp_path):
    certmon("db", "upgrade", env=cli_env)
    certmon("registry", "seed", env=cli_env)
    assets = tmp_path / "assets.csv"
    assets.write_text("org_number,asset_type,value\n964338531,network,192.0.2.0/24\n"
                      "964338531,domain,demo-bergen.example\n", encoding="utf-8")
    assert certmon("assets", "import", str(assets), env=cli_env).returncode == 0
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"kind": "indicator", "key": "k1", "tlp": "green", "source_format": "stix", "type": "ipv4",
                    "value": "192.0.2.9", "labels": [], "confidence": 80, "valid_until": None}) + "\n"
        + json.dumps({"kind": "indicator", "key": "k2", "tlp": "green", "source_format": "stix",
                      "type": "domain", "value": "xdemo-bergen.example"}) + "\n", encoding="utf-8")
    r = certmon("match", str(items), env=cli_env)
    assert r.returncode == 0, r.stderr
    matches = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(matches) == 1
    assert matches[0]["org_number"] == "964338531" and matches[0]["rule"] == "ip-network"
    assert "Bergen" in matches[0]["explanation"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"kind": "indicator"\n', encoding="utf-8")
    r = certmon("match", str(broken), env=cli_env)
    assert r.returncode == 2 and "linje 1" in r.stderr


