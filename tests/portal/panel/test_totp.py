"""portal.panel.totp: RFC 6238 codes, one step either side, and the QR code."""

from __future__ import annotations

import pyotp

from portal.panel import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_the_matching_step_is_the_codes_own():
    at = 1_800_000_015.0
    step = int(at) // 30
    assert totp.matching_step(SECRET, pyotp.TOTP(SECRET).at(int(at)), at) == step
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at - 30), at) == step - 1
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at + 30), at) == step + 1
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at - 60), at) is None
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at + 60), at) is None


def test_what_people_type_is_tidied_and_nonsense_refused():
    at = 1_800_000_015.0
    code = totp.code_at(SECRET, at)
    assert totp.matching_step(SECRET, f" {code[:3]} {code[3:]} ", at) is not None
    for bad in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert totp.matching_step(SECRET, bad, at) is None


def test_secrets_are_160_bits_and_the_qr_code_is_clean_svg():
    secret = totp.new_secret()
    assert len(secret) == 32 and secret != totp.new_secret()
    uri = totp.provisioning_uri(secret, "ewa")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    svg = str(totp.qr_svg(uri))
    assert svg.startswith("<svg") and 'class="totp-qr"' in svg
    assert "style" not in svg and "<script" not in svg and "width=" not in svg
