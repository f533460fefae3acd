"""Sweep constraints: a small expression language that is data, never code.

A sweep's ``constraint`` keeps only the combinations of variable values for
which it is true, e.g. ``version != '5.0' or gateway == 'ims'``. Scenario files
get shared and handed to students, so the text is never given to Python's
``eval``: an expression evaluated there escapes any "empty builtins" through
attribute access (``().__class__.__bases__[0].__subclasses__()``) and runs what it
likes. Instead the text is parsed into Python's syntax tree only to be *read*,
every node is checked against an allow-list, and this module's own walker
computes the result.

The language:

* names of sweep variables (``version``), and constants: strings (``'5.0'``),
  numbers (``3``, ``-1.5``), ``true``/``false`` as ``True``/``False``;
* comparisons ``==  !=  <  <=  >  >=`` (chains such as ``1 <= users <= 3``
  included) and membership ``in`` / ``not in``, whose right side may be a list
  or tuple of constants (``version in ('5.0', '5.0-sp1')``) or a variable;
* ``and``, ``or``, ``not`` and parentheses.

Nothing else: no attribute access, calls, subscripts, arithmetic, lambdas,
comprehensions or names other than the sweep's variables. A constraint is at
most :data:`MAX_LENGTH` characters and nests at most :data:`MAX_DEPTH` deep; the
limits are checked on the text before Python's parser sees it, so a hostile
expression is refused at once instead of exhausting the parser. Comparisons are
also tried on every value each variable can take, so one that cannot be
computed (``version < 3`` when ``version`` is a string) is refused when the file
is validated rather than failing halfway through an experiment.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exsim.names import did_you_mean, listed, shortened

MAX_LENGTH = 1000
"""Longest constraint text accepted, in characters."""

MAX_DEPTH = 20
"""Deepest nesting accepted: brackets in the text, and operators in the expression tree."""

_COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}

# How each construct outside the language is named in a refusal. When a text holds
# several, the most telling one is reported: the order below is that preference.
_REFUSED: list[tuple[type | tuple[type, ...], str]] = [
    (ast.Attribute, "attribute access"),
    (ast.Call, "a function call"),
    (ast.Subscript, "subscripting"),
    (ast.Lambda, "a lambda"),
    ((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp), "a comprehension"),
    (ast.NamedExpr, "assignment (:=)"),
    ((ast.Await, ast.Yield, ast.YieldFrom), "await or yield"),
    ((ast.JoinedStr, ast.FormattedValue), "an f-string"),
    (ast.Starred, "unpacking (*)"),
    (ast.IfExp, "a conditional expression (... if ... else ...)"),
    ((ast.Dict, ast.Set), "a dict or set"),
    (ast.Slice, "a slice"),
]

_OPERATOR_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
}


class ConstraintError(ValueError):
    """A constraint outside the language, or one that cannot be computed; says which part."""


def _nesting(text: str) -> int:
    """Deepest bracket nesting outside string literals (a scan, so it cannot overflow)."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _segment(text: str, node: ast.AST) -> str:
    """The source of a refused node; for attribute access, the ``.name`` part only."""
    if isinstance(node, ast.Attribute):
        return "." + node.attr
    return ast.get_source_segment(text, node) or type(node).__name__


def _refusal(node: ast.AST) -> tuple[int, str] | None:
    """(preference, description) when ``node`` is outside the language by its kind alone."""
    for rank, (kinds, description) in enumerate(_REFUSED):
        if isinstance(node, kinds):
            return rank, description
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        ops = node.ops if isinstance(node, ast.Compare) else [node.op]
        for op in ops:
            if type(op) in _OPERATOR_SYMBOLS:
                return len(_REFUSED), f"the operator {_OPERATOR_SYMBOLS[type(op)]!r}"
    return None


@dataclass(frozen=True, slots=True)
class Constraint:
    """A checked constraint: call :meth:`holds` with one combination of variable values."""

    text: str
    tree: ast.expr

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the combination ``values`` (variable name -> value) is kept."""
        try:
            return bool(_evaluate(self.tree, values))
        except TypeError as exc:  # validation tries every value, so only a caller's own values get here
            raise ConstraintError(f"constraint {shortened(self.text)} cannot be computed: {exc}") from None


def _evaluate(node: ast.expr, values: Mapping[str, Any]) -> Any:
    """The value of a node :func:`parse_constraint` accepted, with Python's meaning."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return not _evaluate(node.operand, values)
        number = _evaluate(node.operand, values)
        return -number if isinstance(node.op, ast.USub) else +number
    if isinstance(node, ast.BoolOp):
        # Python's short circuit: the first false (and) or true (or) operand decides.
        stop_when = not isinstance(node.op, ast.And)
        result: Any = None
        for operand in node.values:
            result = _evaluate(operand, values)
            if bool(result) is stop_when:
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, values)
            if not _COMPARISONS[type(op)][1](left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_evaluate(element, values) for element in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    raise AssertionError(f"unchecked node {type(node).__name__}")  # parse_constraint refuses it


def parse_constraint(
    text: str, variables: Mapping[str, Sequence[Any]], labels: Mapping[str, Sequence[str]] | None = None
) -> Constraint:
    """Check ``text`` against the language; ``variables`` maps each sweep variable to its values.

    Raises :class:`ConstraintError` naming the first problem: too long, nested
    too deep, not an expression, a construct outside the language (with the
    offending piece of text), an unknown variable, a comparison that fails
    for some value a variable can take, or (given ``labels``, each variable's
    labels in the order of its values) a label where a value belongs.
    """
    if len(text) > MAX_LENGTH:
        raise ConstraintError(
            f"constraint is {len(text):,} characters long; the limit is {MAX_LENGTH:,} (split the sweep instead)"
        )
    if _nesting(text) > MAX_DEPTH:
        raise ConstraintError(f"constraint nests brackets more than {MAX_DEPTH} deep")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConstraintError(f"constraint {shortened(text)} is not a valid expression: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes; a parser out of stack
        raise ConstraintError(f"constraint {shortened(text)} is not a valid expression: {exc}") from None
    _check(text.strip(), tree, variables)
    for name, constant in _stray_constants(tree, variables):
        shown = list(labels.get(name) or ()) if labels else []
        if constant in shown:
            value = variables[name][shown.index(constant)]
            raise ConstraintError(
                f"constraint compares {name} with {constant!r}, the label of its value {value!r}; a constraint "
                f"compares values (labels only name them in tables): write {value!r} instead of {constant!r}"
            )
    return Constraint(text, tree)


def _stray_constants(tree: ast.expr, variables: Mapping[str, Sequence[Any]]) -> Iterator[tuple[str, Any]]:
    """(variable, constant) for each constant a variable is tested against for equality or
    membership (``version == 'x'``, ``'x' != version``, ``version in ('x', 'y')``) that is none of
    that variable's values: such a test comes out the same at every point of the sweep.

    Order comparisons (``users < 50``) and a substring test (``'sp' in version``) are left
    alone: there a constant need not be a value to mean something."""
    for node, _ in _nodes(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if isinstance(op, (ast.Eq, ast.NotEq)):
                pairs = [(left, right), (right, left)]
            elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List)):
                pairs = [(left, right)]
            else:
                continue
            for variable, other in pairs:
                # Only a constant or a list of them (whose items the language keeps constant):
                # ``fast == (users == 1)`` compares with another comparison, not a constant.
                if not isinstance(variable, ast.Name) or not (
                    _is_constant(other) or isinstance(other, (ast.Tuple, ast.List))
                ):
                    continue
                found = _evaluate(other, {})
                for constant in found if isinstance(other, (ast.Tuple, ast.List)) else [found]:
                    if constant not in variables[variable.id]:
                        yield variable.id, constant


def stray_constant_problem(constraint: Constraint, variables: Mapping[str, Sequence[Any]]) -> str | None:
    """Why a constraint tests a variable against something that is none of its values, or None.

    ``version != '5.0-sp3'`` over the values '5.0', '5.0-sp1' and '5.0-sp2' is true at every
    point: a misspelt value makes the constraint keep (or drop) everything silently."""
    for name, constant in _stray_constants(constraint.tree, variables):
        values = variables[name]
        hint = (
            did_you_mean(constant, [v for v in values if isinstance(v, str)])
            if isinstance(constant, str)
            else ""
        )
        return (
            f"constraint {shortened(constraint.text)} compares {name} with {constant!r}, which is none of "
            f"its values ({listed(values)}), so that comparison comes out the same at every point{hint}"
        )
    return None


def _nodes(tree: ast.expr) -> Iterator[tuple[ast.AST, int]]:
    """Every node with its depth, breadth first (no recursion, whatever the tree)."""
    level: list[ast.AST] = [tree]
    depth = 0
    while level:
        for node in level:
            yield node, depth
        level = [child for node in level for child in ast.iter_child_nodes(node)]
        depth += 1


def _check(text: str, tree: ast.expr, variables: Mapping[str, Sequence[Any]]) -> None:
    refused: list[tuple[int, int, int, ast.AST, str]] = []
    unknown: list[ast.Name] = []
    if isinstance(tree, (ast.Tuple, ast.List)):
        raise ConstraintError(f"constraint {shortened(text)} is a list or tuple, not a condition")
    for node, depth in _nodes(tree):
        # Operators (And, Eq, Load, ...) are leaves one below their node; they do not nest.
        if depth > MAX_DEPTH + 1:
            raise ConstraintError(f"constraint nests operators more than {MAX_DEPTH} deep")
        found = _refusal(node)
        if found is None:
            found = _structure_refusal(node)
        if found is not None:
            # Among equally telling ones, the first in the text (for attribute access, where
            # its ``.name`` is), innermost first.
            start, end = getattr(node, "col_offset", 0), getattr(node, "end_col_offset", 0) or 0
            if isinstance(node, ast.Attribute):
                start = end - len(node.attr)
            refused.append((found[0], start, end, node, found[1]))
        elif isinstance(node, ast.Name) and node.id not in variables:
            unknown.append(node)
    if refused:
        _, _, _, node, description = min(refused, key=lambda r: r[:3])
        raise ConstraintError(
            f"{description} is not allowed in a constraint (at {shortened(_segment(text, node), 40)}); "
            "use sweep variable names, constants, comparisons, in, and, or, not"
        )
    if unknown:
        names = list(dict.fromkeys(n.id for n in unknown))
        raise ConstraintError(
            f"constraint uses unknown variable(s) {', '.join(names)}{did_you_mean(names[0], list(variables))}"
        )
    for node, _ in _nodes(tree):
        if isinstance(node, ast.Compare):
            _try_comparison(text, node, variables)


def _is_constant(node: ast.AST) -> bool:
    """A constant the language allows: a string, number or boolean, or a signed number."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        )
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool))


def _structure_refusal(node: ast.AST) -> tuple[int, str] | None:
    """Nodes of allowed kinds used where the language does not allow them."""
    late = len(_REFUSED) + 1
    if isinstance(node, ast.Constant) and not _is_constant(node):
        return late, f"the constant {node.value!r}"
    if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not) and not _is_constant(node):
        return late, "a sign on anything but a number"
    if isinstance(node, (ast.Tuple, ast.List)) and not all(_is_constant(e) for e in node.elts):
        return late, "a list or tuple of anything but constants"
    if isinstance(node, (ast.BoolOp, ast.UnaryOp)):
        operands = node.values if isinstance(node, ast.BoolOp) else [node.operand]
        if any(isinstance(o, (ast.Tuple, ast.List)) for o in operands):
            return late, "a list or tuple outside a comparison"
    allowed = (
        ast.BoolOp,
        ast.UnaryOp,
        ast.Compare,
        ast.Name,
        ast.Constant,
        ast.Tuple,
        ast.List,
        ast.And,
        ast.Or,
        ast.Not,
        ast.USub,
        ast.UAdd,
        ast.Load,
        *_COMPARISONS,
    )
    if not isinstance(node, allowed):
        return late, f"{type(node).__name__}"
    return None


# A comparison between two variables is tried on every pair of their values, up to this many.
_MAX_TRIALS = 100_000


def _possible(node: ast.expr, variables: Mapping[str, Sequence[Any]]) -> Sequence[Any]:
    """Every value ``node`` can take: a variable's values, a constant, or what an expression
    of variables (``users == 1`` in ``fast == (users == 1)``) gives over their combinations;
    nothing to try when those are more than :data:`_MAX_TRIALS`."""
    if isinstance(node, ast.Name):
        return variables[node.id]
    names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)})
    if math.prod(len(variables[name]) for name in names) > _MAX_TRIALS:
        return []
    found: list[Any] = []
    for combination in itertools.product(*(variables[name] for name in names)):
        try:
            value = _evaluate(node, dict(zip(names, combination, strict=True)))
        except TypeError:
            continue  # the inner comparison's own trial names it
        if value not in found:
            found.append(value)
    return found


def _try_comparison(text: str, node: ast.Compare, variables: Mapping[str, Sequence[Any]]) -> None:
    """Refuse a comparison some values of its variables make impossible (``'5.0' < 3``)."""
    operands = [node.left, *node.comparators]
    for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
        lefts, rights = _possible(left, variables), _possible(right, variables)
        if len(lefts) * len(rights) > _MAX_TRIALS:
            continue
        symbol, compare = _COMPARISONS[type(op)]
        for a, b in itertools.product(lefts, rights):
            try:
                compare(a, b)
            except TypeError:
                where = ast.get_source_segment(text, left), ast.get_source_segment(text, right)
                hint = (
                    "'in' needs a list, a tuple or a string on its right"
                    if symbol in ("in", "not in")
                    else "compare strings with strings and numbers with numbers"
                )
                raise ConstraintError(
                    f"constraint cannot compute {where[0]} {symbol} {where[1]} for the values {a!r} and {b!r}; {hint}"
                ) from None
