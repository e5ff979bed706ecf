"""Tokens in answer and password links never reach the access log."""

from __future__ import annotations

import logging

from certmon.logsafety import RedactTokens, redact


def test_redact_hides_tokens_in_paths_only():
    assert redact("/svar/eyJuIjoxfQ.abc-DEF_1?x=1") == "/svar/[skjult]?x=1"
    assert redact("GET /passord/InR.oken HTTP/1.1") == "GET /passord/[skjult] HTTP/1.1"
    assert redact("/treff?status=new") == "/treff?status=new"


def test_filter_rewrites_uvicorn_style_access_records(sqlite_env, caplog):
    from certmon.api.app import create_app

    create_app()  # installs the filter on uvicorn's loggers
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactTokens) for f in access.filters)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/passord/SECRET.TOKEN", "1.1", 200)
    assert "SECRET" not in caplog.text and "/passord/[skjult]" in caplog.text


def test_the_error_handlers_log_paths_without_their_tokens(sqlite_env, caplog):
    """The database error handlers (certmon/api/app.py) name the request's path; an answer link's
    token in it is hidden as in the access log."""
    from certmon.api.app import create_app

    create_app()
    app_log = logging.getLogger("certmon.api.app")
    with caplog.at_level(logging.INFO, logger="certmon.api.app"):
        app_log.warning("no database connection free within the pool timeout on %s", "/svar/SECRET.TOKEN")
        app_log.info("integrity error on %s: %s", "/passord/OTHER.SECRET", "UNIQUE constraint failed")
    assert "SECRET" not in caplog.text and caplog.text.count("[skjult]") == 2
