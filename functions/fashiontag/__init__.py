"""fashiontag: photos of garments in, product specifications out.

The shared domain package. Cloud Function entry points live in ``functions/<name>/main.py``
and call into the modules here; nothing in this package registers a function.
"""
