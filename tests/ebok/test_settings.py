"""ebok/settings.py: each setting declared once; `ebok settings`; README's table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ebok.settings import SETTINGS, Settings
from tests.cli import ebok

ROOT = Path(__file__).resolve().parents[2]


def test_settings_fields_are_the_declarations_in_order():
    fields = dataclasses.fields(Settings)
    assert [f.name for f in fields] == [s.name for s in SETTINGS]
    assert [f.default for f in fields] == [s.default for s in SETTINGS]
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_unset_or_empty_variables_give_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    every_empty = {s.env: "" for s in SETTINGS}
    for environ in ({}, every_empty):
        settings = Settings.from_env(environ)
        for s in SETTINGS[1:]:
            assert getattr(settings, s.name) == s.default, s.env
        assert settings.data_dir == tmp_path / "data"


def test_every_variable_is_read_and_flags_win(tmp_path):
    environ = {
        "EBOK_DATA_DIR": str(tmp_path / "elsewhere"),
        "EBOK_DATABASE_URL": "postgresql://ebok:tajne@db.example.pl/ebok",
        "EBOK_SECRET_KEY": "k" * 40,
        "EBOK_BASE_URL": "https://ebok.example.pl/",
        "EBOK_HOST": "0.0.0.0",
        "EBOK_PORT": "8080",
        "EBOK_WORKERS": "3",
        "EBOK_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1",
        "EBOK_METRICS_ALLOW": "192.0.2.0/24",
        "EBOK_LOG_FORMAT": "JSON",
        "EBOK_KEEP_GENERATIONS": "3",
        "EBOK_SESSION_IDLE_MINUTES": "15",
        "EBOK_CLOSED_RETENTION_DAYS": "7",
        "EBOK_PANEL": "off",
        "EBOK_SMTP_HOST": "smtp.example.pl",
        "EBOK_SMTP_PORT": "587",
        "EBOK_SMTP_USER": "ebok",
        "EBOK_SMTP_PASSWORD": "tajne-hasło",
        "EBOK_SMTP_STARTTLS": "yes",
        "EBOK_MAIL_FROM": "EBOK <ebok@example.pl>",
    }
    assert set(environ) == {s.env for s in SETTINGS}
    settings = Settings.from_env(environ)
    assert settings == Settings(
        data_dir=tmp_path / "elsewhere",
        database_url="postgresql://ebok:tajne@db.example.pl/ebok",
        secret_key="k" * 40,
        base_url="https://ebok.example.pl",
        host="0.0.0.0",
        port=8080,
        workers=3,
        trusted_proxies=("127.0.0.1", "10.0.0.0/8", "::1"),
        metrics_allow=("192.0.2.0/24",),
        log_format="json",
        keep_generations=3,
        session_idle_minutes=15,
        closed_account_retention_days=7,
        panel=False,
        smtp_host="smtp.example.pl",
        smtp_port=587,
        smtp_user="ebok",
        smtp_password="tajne-hasło",
        smtp_starttls=True,
        mail_from="EBOK <ebok@example.pl>",
    )
    flagged = Settings.from_env(environ, data_dir=tmp_path / "flag", port=None)
    assert flagged.data_dir == tmp_path / "flag" and flagged.port == 8080
    assert settings.with_overrides(host="::1", port=None).host == "::1"
    assert not Settings.from_env({"EBOK_SMTP_STARTTLS": "0"}).smtp_starttls


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("EBOK_WORKERS", "0"),
        ("EBOK_TRUSTED_PROXIES", "proxy.example.pl"),
        ("EBOK_TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits set: a typo, not a network
        ("EBOK_LOG_FORMAT", "xml"),
    ],
)
def test_bad_values_are_refused(variable, text):
    with pytest.raises(ValueError):
        Settings.from_env({variable: text})


def test_the_environment_reads_back_as_the_same_settings(tmp_path):
    """What `ebok serve --workers N` hands its workers: every value, flags included."""
    settings = Settings.from_env(
        {
            "EBOK_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8",
            "EBOK_PANEL": "off",
            "EBOK_SMTP_PASSWORD": "tajne",
            "EBOK_LOG_FORMAT": "json",
        },
        data_dir=tmp_path / "flag",
        port=8123,
        workers=3,
    )
    environment = settings.environment()
    assert set(environment) == {s.env for s in SETTINGS}
    assert environment["EBOK_SECRET_KEY"] is None  # unset stays unset
    given = {k: v for k, v in environment.items() if v is not None}
    assert Settings.from_env(given) == settings
    assert Settings.from_env({k: v for k, v in Settings().environment().items() if v}) == (
        Settings.from_env({})
    )


def test_secrets_stay_out_of_repr():
    settings = Settings(secret_key="sekretny-klucz", smtp_password="tajne-hasło")
    assert "sekretny-klucz" not in repr(settings)
    assert "tajne-hasło" not in repr(settings)
    assert "smtp_host" in repr(settings)


def test_ebok_settings_prints_every_setting_with_secrets_masked(settings, monkeypatch, capsys):
    monkeypatch.setenv("EBOK_SMTP_PASSWORD", "tajne-hasło")
    monkeypatch.setenv("EBOK_PORT", "8123")
    assert ebok(settings, "settings") == 0
    out = capsys.readouterr().out
    assert "tajne-hasło" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["variable", "value", "default", "meaning"]
    assert len(lines) == 1 + len(SETTINGS)
    rows = dict(zip([s.env for s in SETTINGS], lines[1:], strict=True))
    for s in SETTINGS:
        assert rows[s.env].startswith(s.env) and rows[s.env].endswith(s.help)
        assert s.default_text in rows[s.env]
    assert rows["EBOK_SMTP_PASSWORD"].split()[1] == "***"
    assert rows["EBOK_SECRET_KEY"].split()[1] == "—"  # not set: the file is used
    assert rows["EBOK_PORT"].split()[3] == "8123"  # after "(serve --port)"
    assert f" {settings.data_dir} " in rows["EBOK_DATA_DIR"]  # --data-dir wins


# -- README.md ----------------------------------------------------------------------------------
def readme_table() -> list[tuple[str, str, str]]:
    """(variable cell, meaning, default) of each row of the configuration table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0] == "| variable | meaning | default |", lines[0]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 3, line
        rows.append(tuple(cells))
    return rows


def plain(markdown: str) -> str:
    return markdown.replace("`", "")


def test_readme_configuration_table_is_the_declarations():
    """Same variables (and flags), same defaults and meanings, in the same order: change
    ebok/settings.py and README.md together."""
    readme = []
    for variable, meaning, default in readme_table():
        m = re.fullmatch(r"`(EBOK_\w+)`(?: \(`([^`]+)`\))?", variable)
        assert m, f"one variable per row, as `EBOK_X` or `EBOK_X` (`--flag`): {variable}"
        readme.append((m.group(1), m.group(2), plain(meaning), plain(default)))
    declared = [(s.env, s.flag, s.help.replace("`", ""), s.default_text) for s in SETTINGS]
    assert readme == declared


def test_database_url_must_be_postgresql(tmp_path):
    with pytest.raises(ValueError, match="postgresql://"):
        Settings.from_env({"EBOK_DATABASE_URL": "mysql://db/ebok"}, data_dir=tmp_path)
    sqlite = Settings.from_env({}, data_dir=tmp_path)
    assert sqlite.accounts_database == tmp_path / "ebok.sqlite3"
    assert sqlite.imports_database == tmp_path / "imports.sqlite3"
    url = "postgresql://ebok@db/ebok"
    shared = Settings.from_env({"EBOK_DATABASE_URL": url}, data_dir=tmp_path)
    assert shared.accounts_database == shared.imports_database == url
