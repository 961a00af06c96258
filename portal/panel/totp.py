"""Time-based one-time codes (RFC 6238, pyotp): 6 digits, 30-second steps, SHA-1, which every
authenticator app reads from a QR code.

A code is accepted within one step either side of now (pyotp's `valid_window=1`, for clocks a
little apart), and once only: `matching_step` tells which time step a code belongs to, and the
caller accepts it only if that step is later than the last one the member used
(portal.panel.staff.Staff.use_step). pyotp's `verify` alone would accept a replay.
"""

from __future__ import annotations

import hmac
import time

import pyotp
import segno
from markupsafe import Markup

from portal.i18n import gettext as _

ISSUER = "EBOK panel"
VALID_WINDOW = 1  # steps either side of now
CODE_LENGTH = 6


def now() -> float:
    """Epoch seconds; one name for tests to move the clock of codes."""
    return time.time()


def new_secret() -> str:
    """160 random bits in base32 (32 characters), as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, login: str) -> str:
    """The `otpauth://` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The address as an inline `<svg>` sized by CSS: no inline style, no script (CSP)."""
    svg = segno.make_qr(uri, error="m").svg_inline(
        scale=1,
        border=4,
        omitsize=True,
        title=_("Kod QR do aplikacji uwierzytelniającej"),
        svgclass="totp-qr",
        lineclass=None,
        dark="#000",
        light="#fff",
    )
    return Markup(svg)  # segno's own markup; it escapes the address inside


def normalize(code: str) -> str:
    """What the person typed, without the spaces and dashes some apps show."""
    return "".join(ch for ch in code if not ch.isspace() and ch != "-")[:16]


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code `code` is, within VALID_WINDOW steps of `at` (default: now);
    None for a wrong code. The same comparison as pyotp's `verify(code, valid_window=1)`, but
    it says which step matched."""
    code = normalize(code)
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now() if at is None else at) // totp.interval
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, at: float | None = None) -> str:
    """The code for `at` (default: now), as the member's app shows it; for tests."""
    return pyotp.TOTP(secret).at(int(now() if at is None else at))
