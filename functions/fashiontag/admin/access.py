"""Who may call which route: the one access decorator, and which products a caller may see."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask

from fashiontag import contract
from fashiontag.admin import identity, listings
from fashiontag.admin.errors import NotFound
from fashiontag.admin.identity import Principal
from fashiontag.contract import BUYER, SELLER

# (method, rule) -> roles allowed; filled by @guarded. Every /views and /api route is here.
ROUTE_ROLES: dict[tuple[str, str], tuple[str, ...]] = {}


def guarded(bp: flask.Blueprint, rule: str, roles: tuple[str, ...], methods: tuple[str, ...] = ("GET",)) -> Callable:
    """Register a route that only runs for a verified caller holding one of ``roles``."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(**kwargs: Any) -> Any:
            principal = identity.verify(flask.request.headers.get("Authorization"))
            identity.require(principal, *roles)
            return fn(principal, **kwargs)

        for method in methods:
            ROUTE_ROLES[(method, rule)] = roles
        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=inner, methods=list(methods))
        return inner

    return wrap


def visible_product(principal: Principal, product_id: str) -> dict[str, Any]:
    """The product if the caller may see it: managers any, sellers their own, buyers published."""
    product = listings.get_product(product_id)
    if principal.role == SELLER and product.get("seller_id") != principal.uid:
        raise NotFound("No such product.")
    if principal.role == BUYER and product.get("status") != contract.PUBLISHED:
        raise NotFound("No such product.")
    return product
