"""The admin app's routes, one blueprint per audience; ``web.create_app`` registers them all.

- ``shared``: the page shell, and what every signed-in role may ask (products it may see,
  notifications, messages)
- ``managers``: the review queue, corrections, users, activity
- ``sellers``: upload sessions and the seller's own products
- ``buyers``: the catalogue of published products (managers may look too)
- ``models``: the models page, retraining, and changes to the versions (promote, roll back,
  delete, load)
- ``browser``: the category model in the browser (the LiteRT.js runtime, the model file)

Every ``/views`` and ``/api`` route is declared with ``access.guarded``, which checks the token
and the role before the view runs and lists the route in ``access.ROUTE_ROLES``.
"""

from __future__ import annotations

import flask

from fashiontag.admin.routes import browser, buyers, managers, models, sellers, shared

BLUEPRINTS: tuple[flask.Blueprint, ...] = (shared.bp, managers.bp, sellers.bp, buyers.bp, models.bp, browser.bp)
