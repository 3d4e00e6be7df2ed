"""Avatars drawn on the server (identicons), so no page asks a third party for an image.

Pages link them through `avatar_url` (app/templating.py), which names Gravatar instead when AVATAR_GRAVATAR is on.
"""

import re

from flask import abort

DIGEST = re.compile(r"^[0-9a-f]{32}$")
GRID = 5


def identicon_svg(digest: str, size: int) -> str:
    """Draw a symmetric 5x5 identicon whose pattern and colour come from the hex `digest`."""
    if not DIGEST.match(digest):
        abort(404)
    size = min(max(size, 16), 512)
    bits = int(digest, 16)
    hue = int(digest[-6:], 16) % 360
    cell = size / GRID
    squares = []
    for row in range(GRID):
        for col in range((GRID + 1) // 2):
            if bits >> (row * 3 + col) & 1:
                for x in {col, GRID - 1 - col}:
                    squares.append(
                        f'<rect x="{x * cell:.2f}" y="{row * cell:.2f}" width="{cell:.2f}" height="{cell:.2f}"/>'
                    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f'<rect width="{size}" height="{size}" fill="#f0f0f0"/>'
        f'<g fill="hsl({hue},55%,50%)">{"".join(squares)}</g></svg>'
    )
