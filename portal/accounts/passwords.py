"""Password hashing and the rules a new password must meet.

Hashing is argon2id (argon2-cffi defaults, RFC 9106 low-memory profile). Verifying costs tens of
milliseconds on purpose, so async code calls these through a thread pool.

The rules follow NIST SP 800-63B rather than composition rules: long enough, not the login, not a
known common password. The common list is the 30,000 most frequent passwords that zxcvbn ships,
plus a few Polish favourites it lacks.
"""

from __future__ import annotations

import secrets
import unicodedata
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portal.i18n import gettext as _

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 accepts more, but nobody types it and it is a cheap DoS lever

_hasher = PasswordHasher()

# Frequent in Polish leaks and not in zxcvbn's English-centred list.
_POLISH_COMMON = (
    "zaq12wsxcde",
    "zaq1@wsx",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "polska1234",
    "polska12345",
    "haslo12345",
    "haslo123456",
    "haslohaslo",
    "kochamcie1",
    "kochamcie123",
    "mojehaslo1",
    "mojehaslo123",
    "wspolnota1",
    "wspolnota123",
    "mieszkanie1",
    "mieszkanie123",
)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # Here, not at the top: the list is 30,000 words that only setting a password needs, and
    # every command and server start would load it otherwise.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | frozenset(_POLISH_COMMON)


def normalize(password: str) -> str:
    """NFKC, as NIST SP 800-63B asks: `ą` typed on one device as one code point and on another
    as `a` + combining ogonek must be the same password."""
    return unicodedata.normalize("NFKC", password)


def is_common(password: str) -> bool:
    return password.lower() in _common_passwords()


def check_new_password(login: str, password: str) -> list[str]:
    """Reasons (in the current language, for the form) why `password` may not be set; empty
    when it may."""
    problems: list[str] = []
    password = normalize(password)
    if len(password) < MIN_LENGTH:
        problems.append(_("Hasło musi mieć co najmniej %(n)d znaków.") % {"n": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        problems.append(_("Hasło może mieć najwyżej %(n)d znaków.") % {"n": MAX_LENGTH})
    if login and password.strip().lower() == login.strip().lower():
        problems.append(_("Hasło nie może być takie samo jak login."))
    elif is_common(password):
        problems.append(_("To hasło jest zbyt popularne – wybierz inne."))
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(normalize(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, normalize(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against for unknown logins, so they take as long as wrong passwords."""
    return _hasher.hash(secrets.token_urlsafe(16))


def generate_one_time_password() -> str:
    """An initial password to hand over on paper: 4 groups of 4 unambiguous characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
    return "-".join(groups)
