"""The named colours of the catalogue: what colours measures against, what managers pick from.

No dependencies: the admin function lists these names without numpy or Pillow.
"""

from __future__ import annotations

# Named colours a buyer would search by; each name's reference colour, as hex.
PALETTE: tuple[tuple[str, str], ...] = (
    ("black", "#141414"),
    ("charcoal", "#3a3f44"),
    ("grey", "#808080"),
    ("light grey", "#c4c4c4"),
    ("white", "#f7f7f5"),
    ("cream", "#f2ead3"),
    ("beige", "#d9c8a9"),
    ("khaki", "#b9a87e"),
    ("tan", "#c49a6c"),
    ("brown", "#6e4a2f"),
    ("burgundy", "#7a1f2e"),
    ("red", "#c62828"),
    ("pink", "#f2a2b8"),
    ("coral", "#e8736c"),
    ("orange", "#ee7f2d"),
    ("yellow", "#f2d04a"),
    ("mustard", "#c9a227"),
    ("olive", "#6b6e2f"),
    ("green", "#2e7d4f"),
    ("teal", "#1f7a7a"),
    ("navy", "#1d2745"),
    ("blue", "#2e5eaa"),
    ("denim", "#4e6e9c"),
    ("light blue", "#a8c4e0"),
    ("purple", "#6a3f98"),
    ("lavender", "#b7a5d6"),
)
