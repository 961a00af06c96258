"""The one Jinja2 environment of the portal: compiled templates are cached for the life of the
process, and the display formats are filters so that templates never format by hand; text
and formats follow the request's language (portal.i18n).

The environment holds no per-app state (templates, filters and the `csrf_token` global read
everything from the request), so one per process serves every app.

Templates live in the top-level `templates/` of the source tree; an installed wheel carries
them as `portal/templates` (see pyproject.toml). `TEMPLATES_DIR` is whichever exists.
"""

from __future__ import annotations

from pathlib import Path

from starlette.templating import Jinja2Templates

from portal import i18n
from portal.web import format as fmt
from portal.web.csrf import csrf_token

_PORTAL_DIR = Path(__file__).resolve().parents[1]


def _templates_dir() -> Path:
    installed = _PORTAL_DIR / "templates"  # inside an installed wheel
    if installed.is_dir():
        return installed
    return _PORTAL_DIR.parent / "templates"  # the source tree (and an editable install)


TEMPLATES_DIR = _templates_dir()


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
)
_env.globals.update(csrf_token=csrf_token)
# `_()`, `{% trans %}` and `current_locale()` in the request's language (portal.i18n).
i18n.install(_env)
