"""The one Jinja2 environment of the portal: compiled templates are cached for the life of the
process, and the Polish formats are filters so that templates never format by hand."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from portal.web import format as fmt

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def csrf_token(request: Request) -> str:
    """Delegates to portal.web.csrf, imported on first use so that templating stays importable on
    its own (tests of pure pages, tools)."""
    from portal.web.csrf import csrf_token as _token

    return _token(request)


def quote_id(value: str) -> str:
    """A premises id as one URL path segment: ids contain `/` and spaces."""
    return quote(str(value), safe="")


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
_env = templates.env
_env.autoescape = True
# Compiled once per process: no stat() of every template file on every render. A deploy
# restarts the server anyway.
_env.auto_reload = False
_env.trim_blocks = True
_env.lstrip_blocks = True
_env.filters.update(
    money=fmt.money,
    money_plain=fmt.money_plain,
    number=fmt.number,
    date=fmt.date_pl,
    datetime=fmt.datetime_pl,
    quote_id=quote_id,
)
_env.globals.update(csrf_token=csrf_token)
