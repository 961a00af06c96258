"""Reading our HTML forms in tests."""

from __future__ import annotations

import re


def csrf_token(html: str) -> str:
    """The hidden CSRF field of the (first) form on the page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
