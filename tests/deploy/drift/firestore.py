"""Firestore queries in the code against the composite indexes in infra/main.tf."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, replace

from tests.deploy import terraform as tf
from tests.deploy.drift.repo import Repo, literal, parse, parse_source

EQUALITY_OPS = {"==", "in"}


@dataclass(frozen=True)
class Query:
    """One Firestore query as the code runs it: the clauses on one path to .stream()/.get()."""

    where: str  # file:function
    collection: str
    group: bool  # a collection-group query
    filters: tuple[tuple[str, str], ...] = ()  # (field, operator)
    orders: tuple[str, ...] = ()

    @property
    def fields(self) -> set[str]:
        return {f for f, _ in self.filters} | set(self.orders)

    @property
    def clauses(self) -> int:
        return len(self.filters) + len(self.orders)

    @property
    def needs_composite(self) -> bool:
        # Equality filters on several fields are served by merging single-field indexes; an
        # inequality, array or order clause combined with any other field needs a composite one.
        ranged = self.orders or any(op not in EQUALITY_OPS for _, op in self.filters)
        return bool(ranged) and len(self.fields) >= 2


def _constants(module: ast.Module) -> dict[str, str]:
    return {
        t.id: node.value.value
        for node in module.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


# Query methods that keep the query (and its index needs) as they are, and those that run it.
_PASS_THROUGH = {"limit", "limit_to_last", "offset", "select", "start_at", "start_after", "end_at", "end_before"}
_TERMINAL = {"stream", "get", "count", "sum", "avg", "on_snapshot"}
_MAX_PATHS = 256


class _QueryWalker:
    """Follows query builders through one module's functions, path by path.

    Queries are built in steps (``query = query.where(...)`` under an ``if``), and the
    branches of an ``if`` are different queries: clauses met on exclusive branches never meet
    in one query, so each path through the function is followed on its own, and a query is
    recorded where it runs (``stream()``, ``get()``, ``count()``...).
    """

    def __init__(self, module: ast.Module, shared_constants: dict[str, str], where: str) -> None:
        self.constants = _constants(module)
        self.shared_constants = shared_constants
        self.helpers = {f.name: f for f in module.body if isinstance(f, ast.FunctionDef)}
        self.where = where
        self.found: dict[Query, None] = {}

    def name_of(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):  # the module's own, or imported from contract / config
            return self.constants.get(node.id) or self.shared_constants.get(node.id, "?")
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", "") in _SHARED_MODULES:
            return self.shared_constants.get(node.attr, "?")
        return "?"

    def chain(self, node: ast.expr, env: dict[str, Query]) -> Query | None:
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.helpers:
            # A helper that returns a collection (``def _products(): return db.collection(X)``).
            returns = [s.value for s in ast.walk(self.helpers[func.id]) if isinstance(s, ast.Return) and s.value]
            return self.chain(returns[0], {}) if len(returns) == 1 else None
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr in ("collection", "collection_group") and node.args:
            return Query(self.where, self.name_of(node.args[0]), func.attr == "collection_group")
        base = self.chain(func.value, env)
        if base is None:
            return None
        if func.attr == "where":
            found = [
                (self.name_of(c.args[0]), literal(c.args[1]))
                for c in ast.walk(node)
                if isinstance(c, ast.Call)
                and getattr(c.func, "attr", getattr(c.func, "id", "")) == "FieldFilter"
                and len(c.args) >= 2
            ]
            if not found and len(node.args) >= 3:  # the positional where(field, op, value) form
                found = [(self.name_of(node.args[0]), literal(node.args[1]))]
            return replace(base, filters=base.filters + tuple(found or [("?", "?")]))
        if func.attr == "order_by":
            return replace(base, orders=(*base.orders, self.name_of(node.args[0]) if node.args else "?"))
        if func.attr in _PASS_THROUGH or func.attr in _TERMINAL:
            return base
        return None  # .document(...) and the like: no longer a query

    def record(self, node: ast.AST, env: dict[str, Query]) -> None:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in _TERMINAL:
                query = self.chain(call.func.value, env)
                if query is not None and query.clauses:
                    self.found[query] = None

    def run(self, stmts: list[ast.stmt], env: dict[str, Query]) -> list[dict[str, Query]]:
        envs = [env]
        for stmt in stmts:
            envs = [after for e in envs for after in self.step(stmt, e)][:_MAX_PATHS]
        return envs

    def step(self, s: ast.stmt, env: dict[str, Query]) -> list[dict[str, Query]]:
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return [env]  # walked on their own
        if isinstance(s, ast.Return) and s.value is not None:
            # A function that builds a query and returns it: its caller runs it as built.
            self.record(s.value, env)
            query = self.chain(s.value, env)
            if query is not None and query.clauses:
                self.found[query] = None
            return [env]
        if isinstance(s, ast.If):
            self.record(s.test, env)
            return self.run(s.body, dict(env)) + self.run(s.orelse, dict(env))
        if isinstance(s, ast.For | ast.AsyncFor | ast.While):
            self.record(s.iter if isinstance(s, ast.For | ast.AsyncFor) else s.test, env)
            return self.run(s.body, dict(env)) + self.run(s.orelse, dict(env))
        if isinstance(s, ast.With | ast.AsyncWith):
            for item in s.items:
                self.record(item.context_expr, env)
            return self.run(s.body, env)
        if isinstance(s, ast.Try):
            paths = self.run(s.body + s.orelse, dict(env))
            paths += [p for h in s.handlers for p in self.run(h.body, dict(env))]
            return [p for e in paths for p in self.run(s.finalbody, e)]
        if isinstance(s, ast.Assign | ast.AnnAssign) and s.value is not None:
            self.record(s.value, env)
            query = self.chain(s.value, env)
            after = dict(env)
            for target in s.targets if isinstance(s, ast.Assign) else [s.target]:
                if isinstance(target, ast.Name):
                    if query is None:
                        after.pop(target.id, None)
                    else:
                        after[target.id] = query
            return [after]
        self.record(s, env)
        return [env]


# The modules whose string constants name collections and fields for every other module.
_SHARED_MODULES = ("contract", "config")


def firestore_queries(repo: Repo) -> list[Query]:
    shared = {k: v for m in _SHARED_MODULES for k, v in _constants(parse(repo.package / f"{m}.py")).items()}
    shared_constants = tuple(sorted(shared.items()))
    queries: list[Query] = []
    for path in sorted(repo.functions.rglob("*.py")):
        if (repo.package / "local") in path.parents:
            continue  # the local emulator stack never runs in the cloud
        queries += _module_queries(path.read_text(), shared_constants, str(path.relative_to(repo.root)))
    return queries


@functools.lru_cache(maxsize=1024)
def _module_queries(source: str, shared_constants: tuple[tuple[str, str], ...], name: str) -> tuple[Query, ...]:
    if "collection" not in source:
        return ()  # no query starts without .collection() / .collection_group()
    module = parse_source(source)
    queries: list[Query] = []
    for func in (n for n in ast.walk(module) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        if not any(getattr(c, "attr", "") in _TERMINAL or isinstance(c, ast.Return) for c in ast.walk(func)):
            continue
        walker = _QueryWalker(module, dict(shared_constants), f"{name}:{func.name}")
        walker.run(func.body, {})
        queries += walker.found
    return tuple(queries)


def check_firestore_indexes(repo: Repo, cfg: tf.Config) -> list[str]:
    problems = []
    composite = {
        (
            str(ix["collection"]),
            str(ix.get("query_scope", "COLLECTION")),
            frozenset(str(f["field_path"]) for f in ix["fields"]),
        ): name
        for name, ix in (cfg.local("firestore_composite_indexes") or {}).items()
    }
    group_fields = {
        (str(f["collection"]), str(f["field"])): name
        for name, f in (cfg.local("firestore_collection_group_fields") or {}).items()
    }
    used: set[object] = set()
    for q in firestore_queries(repo):
        scope = "COLLECTION_GROUP" if q.group else "COLLECTION"
        if not q.group and q.clauses <= 1:
            continue  # one clause on one field: the automatic single-field index serves it
        if "?" in q.fields or q.collection == "?":
            problems.append(f"{q.where}: cannot tell the collection or fields of a query; write them as literals")
            continue
        if q.group and len(q.fields) == 1:
            # Single-field indexes are kept for collection scope only; a collection-group query
            # needs the field's collection-group index enabled.
            key = (q.collection, next(iter(q.fields)))
            if key in group_fields:
                used.add(key)
            else:
                problems.append(
                    f"{q.where}: collection-group query on {q.collection}.{key[1]} needs its collection-group "
                    "index; add it to local.firestore_collection_group_fields (infra/main.tf)"
                )
            continue
        if not (q.needs_composite or (q.group and len(q.fields) > 1)):
            continue
        ckey = (q.collection, scope, frozenset(q.fields))
        if ckey in composite:
            used.add(ckey)
        else:
            problems.append(
                f"{q.where}: query on {q.collection} over {sorted(q.fields)} needs a composite index "
                f"({scope}); add it to local.firestore_composite_indexes (infra/main.tf)"
            )
    declared = [*composite.items(), *group_fields.items()]
    for index, name in declared:
        if index not in used:
            problems.append(f"Firestore index {name} serves no query in the code (it still costs every write)")
    return problems
