"""What a product's specification may hold: colour names (read from either form a spec keeps
them in), the palette a manager chooses from, and a submitted correction checked against the
taxonomy and the palette."""

from __future__ import annotations

import re
from typing import Any

from fashiontag import taxonomy
from fashiontag.admin.errors import Invalid
from fashiontag.colour_names import PALETTE

MAX_COLOURS = 6
_COLOUR = re.compile(r"^[a-z][a-z -]{0,29}$")


def colour_names(spec: dict[str, Any]) -> list[str]:
    """Colour names of a spec, whether it holds names or ``{name, hex, share}`` entries."""
    names = []
    for colour in spec.get("colours") or []:
        name = colour.get("name") if isinstance(colour, dict) else colour
        if isinstance(name, str) and name:
            names.append(name)
    return names


def colour_choices() -> list[str]:
    """The colour names a specification may hold: the palette colours are measured against."""
    return [name for name, _ in PALETTE]


def colour_swatches() -> list[tuple[str, str]]:
    return list(PALETTE)


def validate_spec(category: Any, attributes: Any, colours: Any) -> dict[str, Any]:
    """The specification a manager submitted, checked against the taxonomy and the colour
    palette; raises Invalid naming every problem. ``colours`` None means "leave them"."""
    problems: list[str] = []
    if not isinstance(category, str) or not category:
        raise Invalid("The correction was not saved: choose a category.", ["category is missing"])
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise Invalid("The correction was not saved: attributes must map a family to one value.")
    attributes = {k: v for k, v in attributes.items() if v != ""}  # "" means "not set"
    problems += taxonomy.load().validate_spec(category, attributes)
    if isinstance(colours, str):
        colours = [c.strip().lower() for c in colours.split(",") if c.strip()]
    if colours is not None and (not isinstance(colours, list) or not all(isinstance(c, str) for c in colours)):
        problems.append("colours must be a list of colour names")
        colours = []
    palette = colour_choices()
    for colour in colours or []:
        if colour not in palette:
            shown = colour if _COLOUR.match(colour) else colour[:30].encode("ascii", "replace").decode()
            problems.append(f"'{shown}' is not a colour; choose from: {', '.join(palette)}")
    if colours is not None and len(colours) > MAX_COLOURS:
        problems.append(f"at most {MAX_COLOURS} colours")
    if problems:
        raise Invalid("The correction was not saved: " + "; ".join(problems), problems)
    return {
        "category": category,
        "attributes": attributes,
        "colours": None if colours is None else list(dict.fromkeys(colours)),
    }
