"""The printed activation / reset letter: what the resident needs, with Polish letters intact."""

from __future__ import annotations

import io
import shutil
import stat
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from etl.snapshot.store import SnapshotStore
from portal.accounts.letters import Letter, describe_premises, render_letter, write_letter
from tests.builders import make_document, publish_documents

COMMUNITY = "Wspólnota Mieszkaniowa Źródlana 7"


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def letter(**kw) -> Letter:
    values = dict(
        kind="activation",
        login="łucja.żółkiewska",
        password="Ćma-Gęś-42-Źrebię",
        base_url="https://ebok.zrodlana7.pl",
        community=COMMUNITY,
        places=("ul. Źródlana 7 lok. 12, 30-001 Kraków (ZR7/12)",),
        with_email=True,
        issued=date(2026, 11, 24),
    )
    values.update(kw)
    return Letter(**values)


def test_activation_letter_has_everything_to_sign_in() -> None:
    text = pdf_text(render_letter(letter()))
    assert "łucja.żółkiewska" in text
    assert "Ćma-Gęś-42-Źrebię" in text
    assert "https://ebok.zrodlana7.pl" in text
    assert COMMUNITY in text
    assert "ZR7/12" in text
    assert "24.11.2026" in text
    assert "Pierwsze kroki" in text
    assert "Nie pamiętam hasła" in text  # with an e-mail, recovery is self-service


def test_letter_without_email_sends_resident_to_the_office() -> None:
    text = pdf_text(render_letter(letter(with_email=False)))
    assert "nowe hasło wyda biuro" in text
    assert "Nie pamiętam hasła" not in text


def test_reset_letter_says_old_password_is_gone() -> None:
    text = pdf_text(render_letter(letter(kind="reset")))
    assert "Nowe hasło" in text
    assert "Poprzednie hasło" in text
    assert "Ćma-Gęś-42-Źrebię" in text


def test_write_letter_is_private_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "list.pdf"
    write_letter(path, letter())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_letter(path, letter(login="ktoś.inny"))
    assert "łucja.żółkiewska" in pdf_text(path.read_bytes())


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdftotext_reads_login_and_diacritics(tmp_path: Path) -> None:
    path = write_letter(tmp_path / "l.pdf", letter())
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "łucja.żółkiewska" in out
    assert "Hasło jednorazowe" in out
    assert "■" not in out


def test_premises_described_from_the_published_snapshot(store: SnapshotStore) -> None:
    publish_documents(
        store,
        [make_document("ZR7/12", community_name=COMMUNITY, number="12", street="ul. Źródlana 7")],
    )
    community, places = describe_premises(store, ["ZR7/12", "ZR7/99"])
    assert community == COMMUNITY
    assert places == ("ul. Źródlana 7 lok. 12, 30-001 Kraków (ZR7/12)", "ZR7/99")


def test_premises_without_any_snapshot_are_shown_by_id(store: SnapshotStore) -> None:
    assert describe_premises(store, ["A/1"]) == ("", ("A/1",))
