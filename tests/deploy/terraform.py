"""Read infra/*.tf without Terraform: parse with python-hcl2, evaluate the plain expressions.

There is no terraform binary here, so the drift checks evaluate the small subset of HCL the
infra uses: string templates, ``local.*``, ``var.*`` (defaults), ``each.key`` / ``each.value``,
references to other resources, and the functions ``toset``, ``tolist``, ``concat``,
``coalesce``, ``keys`` and ``length``. Anything else evaluates to ``Unknown`` instead of a
guess, so a check that needs the value reports that it cannot read it.

HCL expressions of that subset are also valid Python expressions (``local.topics``,
``google_pubsub_topic.topic[each.key].id``, ``concat(local.a, ["b"])``), so they are parsed
with Python's ``ast``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)


@dataclass(frozen=True)
class Unknown:
    """A value Terraform knows only at apply time (or an expression this reader does not evaluate)."""

    expr: str

    def __str__(self) -> str:
        return f"<{self.expr}>"


@dataclass(frozen=True)
class Instance:
    """One instance of a resource: its address, its ``each`` values, its raw body."""

    rtype: str
    label: str
    key: Any
    value: Any
    body: dict[str, Any]

    @property
    def address(self) -> str:
        return f"{self.rtype}.{self.label}" + ("" if self.key is None else f"[{self.key!r}]")


@dataclass
class Config:
    """The parsed files of one Terraform root module."""

    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    # --- evaluation --------------------------------------------------------------------------

    def eval(self, value: Any, each: tuple[Any, Any] | None = None) -> Any:
        if isinstance(value, str):
            return self._template(value, each)
        if isinstance(value, list):
            return [self.eval(v, each) for v in value]
        if isinstance(value, dict):
            return {k: self.eval(v, each) for k, v in value.items()}
        return value

    def local(self, name: str) -> Any:
        return self.eval(self.locals[name])

    def instances(self, rtype: str) -> Iterator[Instance]:
        """Every instance of every resource of ``rtype`` (for_each expanded)."""
        for label, body in self.resources.get(rtype, {}).items():
            yield from self._expand(rtype, label, body)

    def attr(self, inst: Instance, path: str) -> Any:
        """An attribute of an instance, evaluated; ``a.b`` walks into a nested block (first one)."""
        value: Any = inst.body
        for part in path.split("."):
            if isinstance(value, list):
                value = value[0] if value else None
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return self.eval(value, (inst.key, inst.value))

    def _expand(self, rtype: str, label: str, body: dict[str, Any]) -> Iterator[Instance]:
        if "for_each" not in body:
            yield Instance(rtype, label, None, None, body)
            return
        each = self.eval(body["for_each"])
        if isinstance(each, dict):
            for key, value in each.items():
                yield Instance(rtype, label, key, value, body)
        elif isinstance(each, list):
            for key in each:
                yield Instance(rtype, label, key, key, body)
        else:
            raise ValueError(f"{rtype}.{label}: cannot evaluate for_each {body['for_each']!r}")

    def _template(self, text: str, each: tuple[Any, Any] | None) -> Any:
        parts = list(_split_template(text))
        if len(parts) == 1 and parts[0][0]:
            return self._expr(parts[0][1], each)  # a lone ${expr} keeps its type
        out = []
        for is_expr, chunk in parts:
            out.append(str(self._expr(chunk, each)) if is_expr else chunk)
        return "".join(out)

    def _expr(self, expr: str, each: tuple[Any, Any] | None) -> Any:
        try:
            tree = ast.parse(expr.strip(), mode="eval")
        except SyntaxError:
            return Unknown(expr.strip())
        return self._node(tree.body, each)

    def _node(self, node: ast.expr, each: tuple[Any, Any] | None) -> Any:
        if isinstance(node, ast.Constant):
            return self._template(node.value, each) if isinstance(node.value, str) else node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [self._node(e, each) for e in node.elts]
        if isinstance(node, ast.Name):
            return _Namespace(node.id)
        if isinstance(node, ast.Attribute):
            return self._attribute(self._node(node.value, each), node.attr, node, each)
        if isinstance(node, ast.Subscript):
            base = self._node(node.value, each)
            key = self._node(node.slice, each)
            if isinstance(base, _Resource):
                return self._instance_of(base, key)
            if isinstance(base, dict | list) and not isinstance(key, Unknown):
                try:
                    return base[key]
                except (KeyError, IndexError, TypeError):
                    return Unknown(ast.unparse(node))
            return Unknown(ast.unparse(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node.func.id, [self._node(a, each) for a in node.args], node)
        return Unknown(ast.unparse(node))

    def _attribute(self, base: Any, name: str, node: ast.Attribute, each: tuple[Any, Any] | None) -> Any:
        if isinstance(base, _Namespace):
            if base.name == "local":
                return self.local(name) if name in self.locals else Unknown(f"local.{name}")
            if base.name == "var":
                block = self.variables.get(name, {})
                return self.eval(block["default"]) if "default" in block else Unknown(f"var.{name}")
            if base.name == "each":
                if each is None:
                    return Unknown(f"each.{name}")
                return each[0] if name == "key" else each[1] if name == "value" else Unknown(f"each.{name}")
            if base.name in self.resources and name in self.resources[base.name]:
                resource = _Resource(base.name, name)
                body = self.resources[base.name][name]
                return resource if "for_each" in body else self._instance_of(resource, None)
            return Unknown(ast.unparse(node))
        if isinstance(base, Instance):
            if name in base.body:
                return self.eval(base.body[name], (base.key, base.value))
            # Computed attributes stand for the resource's own name: a topic's id, an account's email.
            for own in ("name", "account_id"):
                if own in base.body:
                    return self.eval(base.body[own], (base.key, base.value))
            return Unknown(ast.unparse(node))
        if isinstance(base, dict):
            return base.get(name, Unknown(ast.unparse(node)))
        return Unknown(ast.unparse(node))

    def _instance_of(self, resource: _Resource, key: Any) -> Any:
        for inst in self._expand(resource.rtype, resource.label, self.resources[resource.rtype][resource.label]):
            if inst.key == key:
                return inst
        return Unknown(f"{resource.rtype}.{resource.label}[{key!r}]")

    def _call(self, name: str, args: list[Any], node: ast.Call) -> Any:
        if any(isinstance(a, Unknown) for a in args) and name != "coalesce":
            return Unknown(ast.unparse(node))
        if name in ("toset", "tolist") and len(args) == 1 and isinstance(args[0], list):
            return list(dict.fromkeys(args[0]))
        if name == "concat" and all(isinstance(a, list) for a in args):
            return [x for a in args for x in a]
        if name == "keys" and len(args) == 1 and isinstance(args[0], dict):
            return list(args[0])
        if name == "length" and len(args) == 1 and isinstance(args[0], list | dict | str):
            return len(args[0])
        if name == "coalesce":
            for a in args:
                if isinstance(a, Unknown):
                    return a
                if a not in (None, ""):
                    return a
        return Unknown(ast.unparse(node))


@dataclass(frozen=True)
class _Namespace:
    name: str


@dataclass(frozen=True)
class _Resource:
    rtype: str
    label: str


def _split_template(text: str) -> Iterator[tuple[bool, str]]:
    """Literal and ``${...}`` parts of an HCL string template (braces inside may nest)."""
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            yield False, text[i:]
            return
        if start > i:
            yield False, text[i:start]
        depth, j = 0, start + 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        yield True, text[start + 2 : j]
        i = j + 1


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> dict[str, Any]:
    # Keyed by content (parsing is the slow part); callers only read the result.
    result: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    return result


def load(infra: Path) -> Config:
    cfg = Config()
    for path in sorted(infra.glob("*.tf")):
        doc = _parse(path.read_text())
        for block in doc.get("locals", []):
            cfg.locals.update(block)
        for block in doc.get("variable", []):
            cfg.variables.update(block)
        for kind, target in (("resource", cfg.resources), ("data", cfg.data)):
            for block in doc.get(kind, []):
                for rtype, labelled in block.items():
                    target.setdefault(rtype, {}).update(labelled)
    return cfg
