"""/panel/: the panel's home page, with a link to each section the member's role may use."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from portal.panel.pages import render
from portal.panel.roles import EVERYONE, route


async def home(request: Request) -> Response:
    return render(request, "panel/home.html")


routes = [route("/panel/", home, EVERYONE, name="panel_home")]
