"""The plain-text notice reads as paragraphs: blank lines between them, none inside a list
(trim_blocks eats the newline after a block tag, `{% endtrans +%}` keeps it)."""

import pytest

from portal.i18n import render
from portal.web.templating import templates


def _context(**changes) -> dict:
    premises = {
        "label": "W/1",
        "community": "Wspólnota Lipowa",
        "balance_changed": True,
        "charge_count": 2,
        "charges": [{"date": "01.11.2026", "description": "Czynsz", "period": "2026-11"}],
        "more_charges": 1,
        "url": "https://ebok.example/premises/W1",
        "ledger_url": "https://ebok.example/premises/W1/ledger",
    }
    context = {
        "login": "jan",
        "as_of": "24.11.2026",
        "premises": [premises],
        "communities": [],
        "unsubscribe_url": "https://ebok.example/u",
        "settings_url": "https://ebok.example/settings",
        "base_url": "https://ebok.example",
    }
    return context | changes


@pytest.mark.parametrize("locale", ["pl", "en"])
def test_the_text_notice_keeps_its_paragraphs_apart(locale):
    text = render(templates.env, "mail/notice.txt", _context(), locale=locale)
    paragraphs = text.strip().split("\n\n")
    assert "jan" in paragraphs[1] and "\n" not in paragraphs[1]
    assert paragraphs[2].startswith(("Dane według stanu na 24.11.2026", "Data as of 24.11.2026"))
    premises = paragraphs[3].splitlines()
    assert premises[0] == "Lokal W/1 (Wspólnota Lipowa)" or premises[0].startswith("Premises W/1")
    # The charges list: its lines one under another, the "more" line indented like them.
    assert premises[3].startswith("  01.11.2026 Czynsz")
    assert premises[4].strip() in ("… i 1 więcej", "… and 1 more")
    assert premises[4].startswith("  …")
