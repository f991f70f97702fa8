"""Pipeline stage 3½ — binding: what the names in a parsed expression mean, resolved once.

`.ctr text → parser → nodes → checks → **bind** → compiler / dispatch / explain / lint`.

Two rules of the language live here and nowhere else:

- a macro use (`MacroRef`) means the macro's body, evaluated where it is used: it becomes a
  `MacroUse` wrapping the bound body, shared by every use (so `explain` can still name it, and
  consumers that memoise per macro name stay linear however often a macro is used);
- a one-segment relative path on the right of `==`/`!=`/ordering, `in` or a string test means a
  declared list when one has that name, otherwise a field: it becomes a `ListRef`.

A reference to a macro that does not exist, or that would recurse, is left as a `MacroRef`
(the checker reports it; the compiler refuses it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import assert_never

from . import nodes as n


def list_name(operand: n.Expr, lists: Mapping[str, object]) -> str | None:
    """The declared list a right-hand operand names, if it names one."""
    if (isinstance(operand, n.Path) and operand.anchor == "rel" and len(operand.segments) == 1
            and isinstance(operand.segments[0], str) and operand.segments[0] in lists):
        return operand.segments[0]
    return None


def list_items(operand: n.Expr) -> n.ListLit | None:
    """The list a bound right-hand operand stands for (a literal list or a declared one)."""
    if isinstance(operand, n.ListLit):
        return operand
    if isinstance(operand, n.ListRef):
        return operand.items
    return None


class Binder:
    """Binds expressions against one rule set's lists and macros. Each macro body is bound once
    and each bound expression is remembered by identity, so binding the same `when` again (the
    compiler, dispatch and explain all ask) costs a dictionary lookup."""

    def __init__(self, lists: Mapping[str, n.ListLit], macros: Mapping[str, n.MacroDecl]):
        self.lists = lists
        self.macros = macros
        self._macros: dict[str, n.Expr] = {}
        self._bound: dict[int, tuple[n.Expr, n.Expr]] = {}  # id → (the node, kept alive; bound)

    def bind(self, e: n.Expr) -> n.Expr:
        found = self._bound.get(id(e))
        if found is not None and found[0] is e:
            return found[1]
        bound = self._bind(e, ())
        self._bound[id(e)] = (e, bound)
        self._bound[id(bound)] = (bound, bound)
        return bound

    def bind_stateful(self, clause: n.Stateful) -> n.Stateful:
        """A rule's state clause with its conditions (a sequence's steps) bound like a `when`:
        macros and declared lists mean the same in a step as anywhere else."""
        steps = tuple(self.bind(step) for step in clause.steps)
        if all(a is b for a, b in zip(steps, clause.steps, strict=True)):
            return clause
        return replace(clause, steps=steps)

    def _macro(self, ref: n.MacroRef, expanding: tuple[str, ...]) -> n.Expr:
        macro = self.macros.get(ref.name)
        if macro is None or ref.name in expanding:
            return ref  # undefined or recursive: reported by the checker, refused by the compiler
        body = self._macros.get(ref.name)
        if body is None:
            body = self._macros[ref.name] = self._bind(macro.expr, (*expanding, ref.name))
        return n.MacroUse(ref.name, body, ref.span)

    def right(self, operand: n.Operand) -> n.Operand:
        """A right-hand operand bound: a declared list's name becomes a ListRef."""
        name = list_name(operand, self.lists)
        if name is None:
            return operand
        return n.ListRef(name, self.lists[name], operand.span)

    def _bind(self, e: n.Expr, expanding: tuple[str, ...]) -> n.Expr:
        match e:
            case n.MacroRef():
                return self._macro(e, expanding)
            case n.And() | n.Or():
                operands = tuple(self._bind(o, expanding) for o in e.operands)
                if all(a is b for a, b in zip(operands, e.operands, strict=True)):
                    return e
                return type(e)(operands, e.span)
            case n.Not():
                operand = self._bind(e.operand, expanding)
                return e if operand is e.operand else n.Not(operand, e.span)
            case n.Quantifier():
                body = self._bind(e.body, expanding)
                return e if body is e.body else n.Quantifier(e.kind, e.path, body, e.span)
            case n.Compare():
                right = self.right(e.right)
                return e if right is e.right else n.Compare(e.op, e.left, right, e.span)
            case n.InTest():
                right = self.right(e.right)
                return e if right is e.right else n.InTest(e.left, right, e.negated, e.span)
            case n.StringTest():
                right = self.right(e.right)
                return e if right is e.right else n.StringTest(e.op, e.left, right, e.span)
            case (n.Matches() | n.Glob() | n.Exists() | n.BoolConst() | n.Path() | n.Literal_()
                  | n.ListLit() | n.Call() | n.MacroUse() | n.ListRef()):
                return e
            case _:
                assert_never(e)
