"""Buyers: the catalogue of published products; managers may look at it too."""

from __future__ import annotations

from typing import Any

import flask

from fashiontag import taxonomy
from fashiontag.admin import listings, presenters, specs
from fashiontag.admin.access import guarded
from fashiontag.admin.identity import Principal
from fashiontag.contract import BUYER, MANAGER

bp = flask.Blueprint("buyers", __name__)


@guarded(bp, "/api/catalogue", (BUYER, MANAGER))
def catalogue_json(p: Principal) -> Any:
    args = flask.request.args
    rows = listings.catalogue(args.get("category", ""), args.get("attribute", ""), args.get("colour", ""))
    return {"products": [presenters.public_product(d) for d in rows]}


@guarded(bp, "/views/catalogue", (BUYER, MANAGER))
def catalogue_view(p: Principal) -> Any:
    args = flask.request.args
    chosen = {k: args.get(k, "") for k in ("category", "attribute", "colour")}
    rows = listings.catalogue(chosen["category"], chosen["attribute"], chosen["colour"])
    every = listings.catalogue()
    colours = sorted({c for d in every for c in specs.colour_names(d.get("spec") or {})})
    tax = taxonomy.load()
    return flask.render_template(
        "catalogue.html",
        me=p,
        chosen=chosen,
        products=[presenters.public_product(d) for d in rows],
        taxonomy=tax,
        families=list({f.id: f for c in tax.categories for f in c.families}.values()),
        colours=colours,
    )
