"""QR codes for cross-device links (``openid4vp://``, ``openid-credential-offer://``), drawn by
the server as inline SVG (segno, pure Python): no script, no image request, no CDN.

A page shows the code *and* the same link as text and as a same-device link, so a person
without a camera (or without sight) is never left with the code alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import segno
from markupsafe import Markup

#: Links longer than this do not belong in a QR code a phone can read across a room.
MAX_QR_CHARS = 2048


def qr_svg(data: str, *, label: str) -> Markup:
    """``data`` as an inline ``<svg role="img">`` QR code (error correction M) named ``label``;
    ``ValueError`` when ``data`` is longer than :data:`MAX_QR_CHARS`."""
    if len(data) > MAX_QR_CHARS:
        raise ValueError(f"a QR code holds at most {MAX_QR_CHARS} characters here")
    code = segno.make(data, error="m", micro=False)
    svg = code.svg_inline(
        scale=4,
        border=4,
        dark="#0b0c0c",
        light="#ffffff",
        title=label,  # segno escapes it
        svgclass="civic-qr__code",
        omitsize=True,
    )
    # segno writes only its own elements and the escaped title: safe to mark.
    return Markup(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))  # noqa: S704


#: Where ``civic wallet ui`` listens by default (``CIVIC_WALLET_UI_URL``). Browsers do not
#: hand a custom scheme (``openid4vp://``) to a page, so a same-device link opens the request
#: at the local web wallet's own address.
LOCAL_WALLET = "http://127.0.0.1:8700"


def same_device_link(link: str, path: str, wallet: str = LOCAL_WALLET) -> str:
    """``link``'s query at the local web wallet's ``path``: ``openid4vp://?client_id=..`` ->
    ``http://127.0.0.1:8700/request?client_id=..``."""
    return f"{wallet}{path}?{urlsplit(link).query}"
