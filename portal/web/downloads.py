"""Files the portal hands out (ledger CSV, slip PDF, letters, audit exports): one response shape,
so every download is private, never stored by a shared cache, and named for the person's disk."""

from __future__ import annotations

from starlette.responses import Response


def file_response(
    body: bytes | str, media_type: str, filename: str, *, inline: bool = False
) -> Response:
    """`filename` must already be safe for a header (ASCII, no quotes): callers build it from
    ids they sanitise themselves."""
    disposition = "inline" if inline else "attachment"
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
