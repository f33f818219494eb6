"""Buyers: the catalogue of published products; managers may look at it too."""

from __future__ import annotations

from typing import Any

import flask

from fashiontag import taxonomy
from fashiontag.admin import catalogue, pages, presenters, specs
from fashiontag.admin.access import guarded
from fashiontag.admin.identity import Principal
from fashiontag.contract import BUYER, MANAGER

bp = flask.Blueprint("buyers", __name__)


@guarded(bp, "/api/catalogue", (BUYER, MANAGER))
def catalogue_json(p: Principal) -> Any:
    args = flask.request.args
    limit = pages.size(args.get("limit"), catalogue.PAGE_SIZE)
    page = catalogue.page(
        args.get("category", ""), args.get("attribute", ""), args.get("colour", ""), limit, args.get("after", "")
    )
    return {"products": [presenters.public_product(d) for d in page.rows], "next": page.next}


@guarded(bp, "/views/catalogue", (BUYER, MANAGER))
def catalogue_view(p: Principal) -> Any:
    args = flask.request.args
    chosen = {k: args.get(k, "") for k in ("category", "attribute", "colour")}
    limit = pages.size(args.get("limit"), catalogue.PAGE_SIZE)
    page = catalogue.page(chosen["category"], chosen["attribute"], chosen["colour"], limit, args.get("after", ""))
    tax = taxonomy.load()
    return flask.render_template(
        "catalogue.html",
        me=p,
        chosen=chosen,
        products=[presenters.public_product(d) for d in page.rows],
        next_page=page.next,
        taxonomy=tax,
        families=list({f.id: f for c in tax.categories for f in c.families}.values()),
        colours=specs.colour_choices(),  # a specification holds palette colours only
    )
