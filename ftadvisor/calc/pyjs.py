"""Translate the calculators' Python (a checked subset) into JavaScript, so a page computes what the API does.

The formulas live once, as ordinary Python in ``ftadvisor.advisor`` and ``ftadvisor.pricing``; the page's
JavaScript is generated from their source with :mod:`ast` at build time. The subset is what those modules
use: functions, pydantic models (fields with defaults, methods, properties), assignments, ``if``/``for``/
``while``, arithmetic, comparisons, f-strings with ``,.Nf``/``.N%``/``g`` formats, comprehensions, lambdas
and a few builtins. Python semantics that JavaScript lacks are kept by the runtime (``runtime.js``):
truthiness, ``in``, ``//``, ``round`` and ``format`` (half-to-even on the exact binary value, like CPython),
``min(key=)`` with tuple keys, ``dict.get``. Anything outside the subset raises :class:`Unsupported` naming
the file and line, so an edit that the page could not follow fails the build (and the tests), never the page.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

RUNTIME = Path(__file__).with_name("runtime.js")

BUILTINS = {
    "max": "pyrt.max",
    "min": "pyrt.min",
    "abs": "Math.abs",
    "round": "pyrt.round",
    "int": "pyrt.int",
    "float": "Number",
    "bool": "pyrt.truthy",
    "len": "pyrt.len",
    "sum": "pyrt.sum",
    "sorted": "pyrt.sorted",
    "str": "pyrt.str",
    "list": "pyrt.list",
    "any": "pyrt.any",
    "all": "pyrt.all",
    "next": "pyrt.next",
    "getattr": "pyrt.getattr",
}
MATH = {
    "exp": "Math.exp",
    "ceil": "Math.ceil",
    "floor": "Math.floor",
    "sqrt": "Math.sqrt",
    "log": "Math.log",
    "isfinite": "Number.isFinite",
    "inf": "Infinity",
}
METHODS = {
    "append": "pyrt.append",
    "join": "pyrt.join",
    "get": "pyrt.get",
    "items": "pyrt.items",
    "values": "pyrt.values",
    "keys": "pyrt.keys",
    "startswith": "pyrt.startswith",
    "replace": "pyrt.replace",
}
BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "===", ast.NotEq: "!=="}


class Unsupported(Exception):
    """A construct the page cannot compute; the message names the file and line."""


@dataclass
class Export:
    """What to translate: functions, and pydantic models with the methods and properties the page calls."""

    functions: list[Callable[..., Any]] = field(default_factory=list)
    models: dict[type[BaseModel], tuple[str, ...]] = field(default_factory=dict)


def translate(export: Export) -> str:
    """JavaScript for ``export``: the runtime, the constants the code reads, the models, then the functions."""
    t = _Translator(export)
    classes = [t.model(cls, members) for cls, members in export.models.items()]
    functions = [t.function(fn) for fn in export.functions]
    constants = [f"const {name} = {value};" for name, value in t.constants.items()]
    return "\n".join([RUNTIME.read_text(encoding="utf-8"), *constants, *classes, *functions])


def _js_value(value: Any, where: str) -> str:
    """A constant's value as a JavaScript literal (tuples and lists become arrays, dicts objects)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise Unsupported(f"{where}: non-finite constant {value!r}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_js_value(v, where) for v in value) + "]"
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ", ".join(f"{json.dumps(k)}: {_js_value(v, where)}" for k, v in value.items()) + "}"
    raise Unsupported(f"{where}: constant of type {type(value).__name__} has no JavaScript form")


class _Translator:
    def __init__(self, export: Export) -> None:
        self.functions = {fn.__name__: fn for fn in export.functions}
        self.models = {cls.__name__: cls for cls in export.models}
        self.constants: dict[str, str] = {}
        self.where = ""
        self.module: ModuleType | None = None
        self.globals: dict[str, Any] = {}

    # ----- definitions

    def _parse(self, obj: Any) -> ast.AST:
        lines, first = inspect.getsourcelines(obj)
        self.where = f"{inspect.getsourcefile(obj)}:{first}"
        self.globals = vars(inspect.getmodule(obj))
        tree = ast.parse(textwrap.dedent("".join(lines)))
        ast.increment_lineno(tree, first - 1)
        return tree.body[0]

    def function(self, fn: Callable[..., Any], *, method: bool = False) -> str:
        node = self._parse(fn)
        assert isinstance(node, ast.FunctionDef)
        return self._def(node, method=method)

    def _def(self, node: ast.FunctionDef, *, method: bool = False, getter: bool = False) -> str:
        args = node.args
        if args.vararg or args.kwarg:
            raise self._err(node, "*args/**kwargs")
        positional = args.posonlyargs + args.args
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        pairs = list(zip(positional, defaults, strict=True)) + list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
        names = [a.arg for a, _ in pairs]
        body_names = _assigned(node.body) - set(names)
        params = [a.arg if d is None else f"{a.arg} = {self.expr(d)}" for a, d in pairs][1 if method else 0 :]
        head = "get " + node.name if getter else node.name if method else "function " + node.name
        out = [f"{head}({', '.join(params)}) {{"]
        if method:
            out.append(f"const {names[0]} = this;")
        if body_names:
            out.append(f"let {', '.join(sorted(body_names))};")
        out += self._block(node.body)
        out.append("}")
        return "\n".join(out)

    def model(self, cls: type[BaseModel], members: Iterable[str]) -> str:
        where = f"{inspect.getsourcefile(cls)}:{cls.__name__}"
        lines = [f"class {cls.__name__} {{", "constructor(kw) {", "kw = kw || {};"]
        for name, info in cls.model_fields.items():
            if info.default_factory is not None:
                default = _js_value(info.default_factory(), where)  # type: ignore[call-arg]
            elif info.default is PydanticUndefined:
                lines.append(f"this.{name} = kw.{name};")
                continue
            elif isinstance(info.default, BaseModel):
                raise Unsupported(f"{where}: model-valued default of {name}")
            else:
                default = _js_value(info.default, where)
            lines.append(f"this.{name} = ({json.dumps(name)} in kw) ? kw.{name} : {default};")
        validators = cls.__pydantic_decorators__.model_validators
        for name in validators:
            if name not in members or validators[name].info.mode != "after":
                raise Unsupported(f"{where}: model validator {name} must be exported, in mode 'after'")
        lines += [f"this.{name}();" for name in validators]  # the model checks itself when built, as in Python
        lines.append("}")
        for member in members:
            attr = inspect.getattr_static(cls, member)
            if isinstance(attr, property):
                assert attr.fget is not None
                node = self._parse(attr.fget)
                assert isinstance(node, ast.FunctionDef)
                lines.append(self._def(node, method=True, getter=True))
            elif isinstance(attr, FunctionType):
                lines.append(self.function(attr, method=True))
            else:
                raise Unsupported(f"{where}: {member} is neither a method nor a property")
        lines.append("}")
        return "\n".join(lines)

    # ----- statements

    def _err(self, node: ast.AST, what: str) -> Unsupported:
        line = getattr(node, "lineno", "?")
        file = self.where.rsplit(":", 1)[0]
        return Unsupported(f"{file}:{line}: {what} is outside the subset the calculators page can compute")

    def _block(self, body: list[ast.stmt]) -> list[str]:
        out: list[str] = []
        for i, stmt in enumerate(body):
            if (
                i == 0
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                continue  # docstring
            out += self._stmt(stmt)
        return out

    def _stmt(self, s: ast.stmt) -> list[str]:
        if isinstance(s, ast.Return):
            return [f"return {self.expr(s.value) if s.value else 'null'};"]
        if isinstance(s, ast.Assign):
            value = self.expr(s.value)
            return [f"{self._target(t)} = {value};" for t in s.targets]
        if isinstance(s, ast.AnnAssign):
            return [] if s.value is None else [f"{self._target(s.target)} = {self.expr(s.value)};"]
        if isinstance(s, ast.AugAssign):
            op = BINOPS.get(type(s.op))
            if op is None:
                raise self._err(s, type(s.op).__name__)
            return [f"{self._target(s.target)} {op}= {self.expr(s.value)};"]
        if isinstance(s, ast.If):
            out = [f"if ({self.test(s.test)}) {{", *self._block(s.body), "}"]
            if s.orelse:
                out += ["else {", *self._block(s.orelse), "}"]
            return out
        if isinstance(s, ast.For):
            if s.orelse:
                raise self._err(s, "for-else")
            return [
                f"for (const {self._target(s.target, declare=True)} of pyrt.iter({self.expr(s.iter)})) {{",
                *self._block(s.body),
                "}",
            ]
        if isinstance(s, ast.While):
            if s.orelse:
                raise self._err(s, "while-else")
            return [f"while ({self.test(s.test)}) {{", *self._block(s.body), "}"]
        if isinstance(s, ast.Break):
            return ["break;"]
        if isinstance(s, ast.Continue):
            return ["continue;"]
        if isinstance(s, ast.Pass | ast.Assert):
            return []  # asserts narrow types for mypy; the page has no types to narrow
        if isinstance(s, ast.Expr):
            return [self.expr(s.value) + ";"]
        if isinstance(s, ast.Raise):
            exc = s.exc
            if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) and len(exc.args) == 1:
                return [f"throw new pyrt.Error({json.dumps(exc.func.id)}, {self.expr(exc.args[0])});"]
            raise self._err(s, "this raise")
        if isinstance(s, ast.FunctionDef):
            return [self._def(s)]
        raise self._err(s, type(s).__name__)

    def _target(self, t: ast.expr, declare: bool = False) -> str:
        if isinstance(t, ast.Name):
            return t.id
        if isinstance(t, ast.Tuple) and all(isinstance(e, ast.Name) for e in t.elts):
            return "[" + ", ".join(e.id for e in t.elts if isinstance(e, ast.Name)) + "]"
        if not declare and isinstance(t, ast.Subscript):
            return f"{self.expr(t.value)}[{self.expr(t.slice)}]"
        if not declare and isinstance(t, ast.Attribute):
            return f"{self.expr(t.value)}.{t.attr}"
        raise self._err(t, "this assignment target")

    # ----- expressions

    def test(self, e: ast.expr) -> str:
        """``e`` as a JavaScript boolean with Python's truthiness."""
        if isinstance(e, ast.Compare):
            return self.expr(e)
        if isinstance(e, ast.BoolOp):
            op = " && " if isinstance(e.op, ast.And) else " || "
            return "(" + op.join(self.test(v) for v in e.values) + ")"
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            return f"!{self.test(e.operand)}"
        if isinstance(e, ast.Constant) and isinstance(e.value, bool):
            return "true" if e.value else "false"
        return f"pyrt.truthy({self.expr(e)})"

    def expr(self, e: ast.expr) -> str:
        if isinstance(e, ast.Constant):
            return _js_value(e.value, self.where)
        if isinstance(e, ast.Name):
            return self._name(e)
        if isinstance(e, ast.Attribute):
            if isinstance(e.value, ast.Name) and self.globals.get(e.value.id) is math:
                if e.attr not in MATH:
                    raise self._err(e, f"math.{e.attr}")
                return MATH[e.attr]
            return f"{self.expr(e.value)}.{e.attr}"
        if isinstance(e, ast.BinOp):
            a, b = self.expr(e.left), self.expr(e.right)
            if isinstance(e.op, ast.FloorDiv):
                return f"pyrt.floordiv({a}, {b})"
            if isinstance(e.op, ast.Mod):
                return f"pyrt.mod({a}, {b})"
            op = BINOPS.get(type(e.op))
            if op is None:
                raise self._err(e, type(e.op).__name__)
            return f"({a} {op} {b})"
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.Not):
                return f"!{self.test(e.operand)}"
            if isinstance(e.op, ast.USub):
                return f"(-{self.expr(e.operand)})"
            raise self._err(e, type(e.op).__name__)
        if isinstance(e, ast.BoolOp):
            fn = "pyrt.and" if isinstance(e.op, ast.And) else "pyrt.or"
            out = self.expr(e.values[-1])
            for v in reversed(e.values[:-1]):
                out = f"{fn}({self.expr(v)}, () => {out})"
            return out
        if isinstance(e, ast.Compare):
            parts, left = [], e.left
            for cmp, right in zip(e.ops, e.comparators, strict=True):
                parts.append(self._compare(cmp, left, right))
                left = right
            return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"
        if isinstance(e, ast.IfExp):
            return f"({self.test(e.test)} ? {self.expr(e.body)} : {self.expr(e.orelse)})"
        if isinstance(e, ast.Call):
            return self._call(e)
        if isinstance(e, ast.JoinedStr):
            parts = [
                self._format(v) if isinstance(v, ast.FormattedValue) else json.dumps(getattr(v, "value", ""))
                for v in e.values
            ]
            return "(" + " + ".join(['""', *parts]) + ")"
        if isinstance(e, ast.Tuple | ast.List):
            return "[" + ", ".join(self._element(x) for x in e.elts) + "]"
        if isinstance(e, ast.Set):
            return "new Set([" + ", ".join(self.expr(x) for x in e.elts) + "])"
        if isinstance(e, ast.Dict):
            if any(k is None for k in e.keys):
                raise self._err(e, "dict unpacking")
            return (
                "{"
                + ", ".join(
                    f"[{self.expr(k)}]: {self.expr(v)}"  # type: ignore[arg-type]
                    for k, v in zip(e.keys, e.values, strict=True)
                )
                + "}"
            )
        if isinstance(e, ast.Subscript):
            if isinstance(e.slice, ast.Slice):
                raise self._err(e, "slicing")
            return f"pyrt.getitem({self.expr(e.value)}, {self.expr(e.slice)})"
        if isinstance(e, ast.Lambda):
            largs = e.args
            if largs.vararg or largs.kwarg or largs.kwonlyargs or largs.defaults:
                raise self._err(e, "this lambda")
            return f"(({', '.join(x.arg for x in largs.args)}) => {self.expr(e.body)})"
        if isinstance(e, ast.NamedExpr):
            return f"({e.target.id} = {self.expr(e.value)})"
        if isinstance(e, ast.ListComp | ast.GeneratorExp):
            return self._comprehension(e.generators, f"out.push({self.expr(e.elt)});", "[]")
        if isinstance(e, ast.SetComp):
            return self._comprehension(e.generators, f"out.add({self.expr(e.elt)});", "new Set()")
        if isinstance(e, ast.DictComp):
            return self._comprehension(e.generators, f"out[{self.expr(e.key)}] = {self.expr(e.value)};", "{}")
        raise self._err(e, type(e).__name__)

    def _element(self, x: ast.expr) -> str:
        return f"...pyrt.iter({self.expr(x.value)})" if isinstance(x, ast.Starred) else self.expr(x)

    def _name(self, e: ast.Name) -> str:
        name = e.id
        if name in ("True", "False", "None"):
            return {"True": "true", "False": "false", "None": "null"}[name]
        if name in self.functions or name in self.models:
            return name
        if name in self.globals:
            value = self.globals[name]
            if isinstance(value, FunctionType) or (isinstance(value, type) and issubclass(value, BaseModel)):
                raise self._err(e, f"{name} (not exported to the page)")
            if isinstance(value, tuple) and value and all(callable(v) for v in value):
                for v in value:
                    if v.__name__ not in self.functions:
                        raise self._err(e, f"{v.__name__} in {name} (not exported to the page)")
                js = "[" + ", ".join(v.__name__ for v in value) + "]"
            else:
                js = _js_value(value, f"{self.where}: {name}")
            if self.constants.setdefault(name, js) != js:
                raise self._err(e, f"two different constants named {name}")
            return name
        if name in BUILTINS:
            return BUILTINS[name]
        return name  # a local, a parameter or a comprehension variable

    def _compare(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> str:
        a, b = self.expr(left), self.expr(right)
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value in (None, True, False)):
                raise self._err(right, "`is` with anything but None, True or False")
            if right.value is None:
                return f"({a} {'==' if isinstance(op, ast.Is) else '!='} null)"
            return f"({a} {'===' if isinstance(op, ast.Is) else '!=='} {b})"
        if isinstance(op, ast.In):
            return f"pyrt.contains({b}, {a})"
        if isinstance(op, ast.NotIn):
            return f"!pyrt.contains({b}, {a})"
        return f"({a} {CMPOPS[type(op)]} {b})"

    def _format(self, v: ast.FormattedValue) -> str:
        if v.conversion != -1:
            raise self._err(v, "!r/!s conversions")
        spec = ""
        if v.format_spec is not None:
            assert isinstance(v.format_spec, ast.JoinedStr)
            if not all(isinstance(p, ast.Constant) for p in v.format_spec.values):
                raise self._err(v, "a computed format spec")
            spec = "".join(str(p.value) for p in v.format_spec.values if isinstance(p, ast.Constant))
        return f"pyrt.format({self.expr(v.value)}, {json.dumps(spec)})"

    def _call(self, e: ast.Call) -> str:
        f = e.func
        args = [self._element(a) for a in e.args]
        kwargs = {k.arg: self.expr(k.value) for k in e.keywords if k.arg is not None}
        if len(kwargs) != len(e.keywords):
            raise self._err(e, "**kwargs in a call")
        if isinstance(f, ast.Name) and f.id in self.models:
            if args:
                raise self._err(e, "positional arguments to a model")
            return f"new {f.id}({{{', '.join(f'{k}: {v}' for k, v in kwargs.items())}}})"
        if isinstance(f, ast.Name) and f.id in self.functions:
            return f"{f.id}({', '.join(self._positional(e, self.functions[f.id], args, kwargs))})"
        if isinstance(f, ast.Name) and f.id in ("min", "max", "sorted") and kwargs:
            if set(kwargs) != {"key"}:
                raise self._err(e, f"{f.id}() with {', '.join(kwargs)}")
            return f"pyrt.{f.id}_by({', '.join(args)}, {kwargs['key']})"
        if isinstance(f, ast.Name) and f.id in ("max", "min") and len(args) == 1:
            return f"pyrt.{f.id}(...pyrt.iter({args[0]}))"
        if isinstance(f, ast.Attribute) and f.attr == "model_copy" and set(kwargs) == {"update"} and not args:
            return f"pyrt.copy({self.expr(f.value)}, {kwargs['update']})"
        if kwargs:
            raise self._err(e, "keyword arguments here")
        if isinstance(f, ast.Attribute) and not (
            isinstance(f.value, ast.Name) and self.globals.get(f.value.id) is math
        ):
            obj = self.expr(f.value)
            if f.attr in METHODS:
                return f"{METHODS[f.attr]}({', '.join([obj, *args])})"
            return f"{obj}.{f.attr}({', '.join(args)})"
        if isinstance(f, ast.Name) and f.id in self.globals and f.id not in BUILTINS:
            raise self._err(e, f"{f.id}() (not exported to the page)")
        return f"{self.expr(f)}({', '.join(args)})"

    def _positional(self, e: ast.Call, fn: Callable[..., Any], args: list[str], kwargs: dict[str, str]) -> list[str]:
        """Keyword arguments in the callee's order, defaults filled in (JavaScript has no keywords)."""
        if not kwargs:
            return args
        out = list(args)
        params = list(inspect.signature(fn).parameters.values())[len(args) :]
        for p in params:
            if p.name in kwargs:
                out.append(kwargs.pop(p.name))
            elif p.default is inspect.Parameter.empty:
                raise self._err(e, f"a call to {fn.__name__} without {p.name}")
            else:
                out.append(_js_value(p.default, self.where))
        if kwargs:
            raise self._err(e, f"unknown keyword {next(iter(kwargs))} to {fn.__name__}")
        return out

    def _comprehension(self, generators: list[ast.comprehension], add: str, empty: str) -> str:
        code = add
        for g in reversed(generators):
            if g.is_async:
                raise self._err(g.iter, "async comprehension")
            for cond in reversed(g.ifs):
                code = f"if ({self.test(cond)}) {{ {code} }}"
            code = f"for (const {self._target(g.target, declare=True)} of pyrt.iter({self.expr(g.iter)})) {{ {code} }}"
        return f"(() => {{ const out = {empty}; {code} return out; }})()"


def _assigned(body: list[ast.stmt]) -> set[str]:
    """Names a function body assigns (its locals), walrus targets in comprehensions included; nested
    functions are declarations of their own and keep their locals."""
    names: set[str] = set()
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.Lambda):
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
            targets = [node.target]
        names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        todo.extend(ast.iter_child_nodes(node))
    return names
