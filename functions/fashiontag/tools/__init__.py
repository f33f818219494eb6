"""Tools a developer runs on this machine: the ``fashiontag`` command, the demo, uploads from files.

Never deployed: scripts/package_function.py leaves this package out of every function bundle
(docs/decisions/0012), so nothing a function imports may live here.
"""
