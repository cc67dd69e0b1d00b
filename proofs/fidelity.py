"""Fidelity: each encoded rule, evaluated on concrete rows, keeps what spec.target keeps.

Why: a shift theorem applies the SAME encoded rule to z and to z - c, so a wrong rule (top-p with
`<=`, typical-p ranked the wrong way) proves just as well. Here the very SMT-LIB text the proofs
hand to z3 (built by calling the proofs' own builders at check time, or captured from the theorem's
run through a recording context) is evaluated with its symbols bound to numbers, and each side of
the claim's equalities (the rule on z, the rule on z - c) is compared with spec.target's keep-set.

The evaluator (`Script`, `evaluate`) is exact: rationals are Fractions; logits log q_i, log m,
log-probabilities and the entropy are `Lin` (r + sum_k a_k log p_k over primes p_k, exact, and equal
exactly when equal as real numbers, since 1 and the log p_k are linearly independent over Q); exp
of those is `Exp` (a rational whenever it is one, e.g. exp(log 3) = 3); square roots of rationals
(top-n-sigma's sigma) are `Surd` (a + b sqrt(d)). Order between different numbers is decided in
float64 when the margin is wide, else in 60-digit mpmath; a difference below 1e-30 that is not
exactly 0 raises `Undecided` (the row is then skipped and counted), never a guess. A division by
zero in a claim term (SMT-LIB leaves it unspecified) is `Undefined`: never kept, NaN as a mass.
Quantifiers range over Int and are evaluated on the finite window j in -2..n+1, which covers every
guard 0 <= j < n of these encodings. Uninterpreted functions (lg, E, Exp, lse) are bound to Python
functions: log, exp, logsumexp.

Premises that define auxiliary constants or arrays (y = z - c, p = e / S, accumulate-style prefix
sums) are solved by evaluating their right-hand sides; the rest (max, first maxima, sigma) are
bound by the rule's own code; then EVERY premise is evaluated at the binding and must be true, so
the binding is what the premises define (a false premise is a mismatch).

Against the spec: rows are small integer weights q_i (logits log q_i) with many ties. Where float64
computes the probabilities exactly (dyadic q_i / sum(q), `float_exact`) and the parameter is
dyadic, spec.target runs with Tolerance(0, 0), so exact boundaries (p equal to a cumulative mass, a
threshold equal to a probability, tied maxima) are decided by both and compared; elsewhere it runs
with Tolerance(1e-9, 1e-9) and only its non-boundary tokens are compared. Parameters differ in
form where the encodings do: min-p's log m is bound to the exact log of m, eta's sqrt(eps) to the
exact root, XTC's keep-set is compared with probability 1 (the branch that fires) and its mixture
with spec.target's mixture. Typical-p rows whose typicality scores tie exactly between different
probabilities (p = (1/2, 1/4, 1/4)) are skipped and counted: float64 cannot see such ties.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import random
import re
import time
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from proofs import commute_proof, order, rules, samplers, speculative
from proofs.core import HOLDS, INCONCLUSIVE, MISMATCH, NOT_RUN, Step

RULES = ("softmax", "argmax-one-hot", "first-max", "top-k", "top-p", "min-p", "typical", "epsilon", "eta", "xtc",
         "top-n-sigma", "penalty", "commute-chains", "speculative")

ROWS = 250  # rows per rule by default: the whole pass over RULES costs about 3 s of CPU

MP = mpmath.MPContext()
MP.dps = 60
TINY = 1e-30  # a nonzero difference of transcendental numbers smaller than this is not decided


class Undecided(Exception):
    """Two different numbers too close to order in 60 digits: the row is skipped."""


class FloatBlind(Exception):
    """The row has an exact tie float64 cannot see (typicality scores of different probabilities
    that are equal as real numbers): spec.target cannot decide it, so the row is skipped."""


class Unsupported(Exception):
    """The evaluator cannot represent this value (e.g. a sum of two irrational exponentials)."""


class Unbound(Exception):
    """A symbol with no value yet."""


# --- exact numbers: rationals, linear forms in log primes, their exponentials, quadratic surds --------

@functools.cache
def _factor(k: int) -> tuple[tuple[int, int], ...]:
    out, d = {}, 2
    while d * d <= k:
        while k % d == 0:
            out[d] = out.get(d, 0) + 1
            k //= d
        d += 1
    if k > 1:
        out[k] = out.get(k, 0) + 1
    return tuple(sorted(out.items()))


@functools.cache
def _log_prime(p: int):
    return MP.log(p)


def _rational(x) -> bool:
    return isinstance(x, int | Fraction) and not isinstance(x, bool)


class Lin:
    """const + sum coef_p log p (p prime): logs of rationals and everything linear in them."""

    __slots__ = ("const", "coefs", "_value")

    def __init__(self, const, coefs):
        self.const, self.coefs, self._value = const if type(const) is Fraction else Fraction(const), coefs, None

    @staticmethod
    def make(const, coefs: dict):
        coefs = tuple(sorted((p, a if type(a) is Fraction else Fraction(a)) for p, a in coefs.items() if a != 0))
        return Lin(const, coefs) if coefs else Fraction(const)

    def value(self):
        if self._value is None:
            self._value = MP.mpf(self.const.numerator) / self.const.denominator + MP.fsum(
                MP.mpf(a.numerator) / a.denominator * _log_prime(p) for p, a in self.coefs)
        return self._value

    def _parts(self, other):
        if isinstance(other, Lin):
            return other.const, dict(other.coefs)
        if _rational(other):
            return Fraction(other), {}
        raise Unsupported(f"{self} with {other!r}")

    def __add__(self, other):
        if not isinstance(other, Lin) and not _rational(other):
            return NotImplemented
        c, d = self._parts(other)
        coefs = dict(self.coefs)
        for p, a in d.items():
            coefs[p] = coefs.get(p, 0) + a
        return Lin.make(self.const + c, coefs)

    __radd__ = __add__

    def __neg__(self):
        return Lin.make(-self.const, {p: -a for p, a in self.coefs})

    def __sub__(self, other):
        if not isinstance(other, Lin) and not _rational(other):
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if not _rational(other):
            raise Unsupported(f"product of two logarithmic terms {self} * {other!r}")
        return Lin.make(self.const * other, {p: a * other for p, a in self.coefs})

    __rmul__ = __mul__

    def __truediv__(self, other):
        if not _rational(other) or other == 0:
            raise Unsupported(f"{self} / {other!r}")
        return Lin.make(self.const / other, {p: a / Fraction(other) for p, a in self.coefs})

    def __eq__(self, other):
        if isinstance(other, Lin):
            return self.const == other.const and self.coefs == other.coefs
        return False if _rational(other) or isinstance(other, Exp | Surd) else NotImplemented

    def __hash__(self):
        return hash((self.const, self.coefs))

    def sign(self) -> int:
        approx = float(self.const) + sum(float(a) * math.log(p) for p, a in self.coefs)
        scale = abs(float(self.const)) + sum(abs(float(a)) * math.log(p) for p, a in self.coefs)
        if abs(approx) > 1e-9 * (1 + scale):  # float64 decides it with a wide margin
            return 1 if approx > 0 else -1
        v = self.value()
        if abs(v) < TINY:
            raise Undecided(f"{self} is within {TINY} of 0")
        return 1 if v > 0 else -1

    def __lt__(self, other):
        return sign(self - other) < 0

    def __le__(self, other):
        return self == other or sign(self - other) < 0

    def __gt__(self, other):
        return sign(self - other) > 0

    def __ge__(self, other):
        return self == other or sign(self - other) > 0

    def __abs__(self):
        return self if self.sign() > 0 else -self

    def __float__(self):
        return float(self.value())

    def __repr__(self):
        logs = " + ".join(f"{a} log {p}" for p, a in self.coefs)
        return f"({self.const} + {logs})" if self.const else f"({logs})"


def lg(x):
    """log, exactly: a rational's log is a Lin, log exp(f) = f."""
    if isinstance(x, Exp):
        return x.form
    if _rational(x) and x > 0:
        x = Fraction(x)
        coefs = dict(_factor(x.numerator))
        for p, a in _factor(x.denominator):
            coefs[p] = coefs.get(p, 0) - a
        return Lin.make(0, coefs)
    raise Unsupported(f"log of {x!r}")


def exp(x):
    """exp, exactly: a rational when it is one (exp(log 3) = 3, exp(0) = 1), else an `Exp`."""
    if _rational(x) and x == 0:
        return Fraction(1)
    if isinstance(x, Lin) and x.const == 0 and all(a.denominator == 1 for _, a in x.coefs):
        return math.prod((Fraction(p) ** int(a) for p, a in x.coefs), start=Fraction(1))
    if isinstance(x, Lin) or _rational(x):
        return Exp(x)
    raise Unsupported(f"exp of {x!r}")


class Exp:
    """exp(form), form a Lin or a nonzero rational: a positive number closed under * and /."""

    __slots__ = ("form",)

    def __init__(self, form):
        self.form = form

    def __mul__(self, other):
        if isinstance(other, Exp):
            return exp(self.form + other.form)
        if _rational(other):
            if other == 0:
                return Fraction(0)
            if other > 0:
                return exp(self.form + lg(other))
        raise Unsupported(f"{self} * {other!r}")

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Exp):
            return exp(self.form - other.form)
        if _rational(other) and other > 0:
            return exp(self.form - lg(other))
        raise Unsupported(f"{self} / {other!r}")

    def __rtruediv__(self, other):
        if _rational(other) and other == 0:
            return Fraction(0)
        if _rational(other) and other > 0:
            return exp(lg(other) - self.form)
        raise Unsupported(f"{other!r} / {self}")

    def __add__(self, other):
        if _rational(other) and other == 0:
            return self
        raise Unsupported(f"sum {self} + {other!r}")

    __radd__ = __add__

    def _cmp(self, other) -> int:
        if isinstance(other, Exp):
            return sign(self.form - other.form)
        if _rational(other):
            return 1 if other <= 0 else sign(self.form - lg(other))
        raise Unsupported(f"{self} vs {other!r}")

    def __eq__(self, other):
        if isinstance(other, Exp):
            return self.form == other.form
        return False if _rational(other) or isinstance(other, Lin | Surd) else NotImplemented

    def __hash__(self):
        return hash(("exp", self.form))

    def __lt__(self, other):
        return self._cmp(other) < 0

    def __le__(self, other):
        return self == other or self._cmp(other) < 0

    def __gt__(self, other):
        return self._cmp(other) > 0

    def __ge__(self, other):
        return self == other or self._cmp(other) > 0

    def __float__(self):
        return float(MP.exp(self.form.value() if isinstance(self.form, Lin) else MP.mpf(self.form.numerator)
                            / self.form.denominator))

    def __repr__(self):
        return f"exp{self.form!r}"


class Surd:
    """a + b sqrt(d), d > 1 square-free, b != 0: the square roots top-n-sigma takes."""

    __slots__ = ("a", "b", "d")

    def __init__(self, a, b, d):
        self.a, self.b, self.d = Fraction(a), Fraction(b), d

    @staticmethod
    def make(a, b, d):
        return Fraction(a) if b == 0 else Surd(a, b, d)

    def _ab(self, other):
        if isinstance(other, Surd) and other.d == self.d:
            return other.a, other.b
        if _rational(other):
            return Fraction(other), Fraction(0)
        raise Unsupported(f"{self} with {other!r}")

    def __add__(self, other):
        a, b = self._ab(other)
        return Surd.make(self.a + a, self.b + b, self.d)

    __radd__ = __add__

    def __neg__(self):
        return Surd(-self.a, -self.b, self.d)

    def __sub__(self, other):
        a, b = self._ab(other)
        return Surd.make(self.a - a, self.b - b, self.d)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        a, b = self._ab(other)
        return Surd.make(self.a * a + self.b * b * self.d, self.a * b + self.b * a, self.d)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if _rational(other) and other != 0:
            return Surd.make(self.a / other, self.b / other, self.d)
        raise Unsupported(f"{self} / {other!r}")

    def sign(self) -> int:
        a, b = self.a, self.b
        sa, sb = (a > 0) - (a < 0), (b > 0) - (b < 0)
        if sa == 0 or sa == sb:
            return sb
        return sa if a * a > b * b * self.d else -sa  # a^2 = b^2 d is impossible: d is not a square

    def __eq__(self, other):
        if isinstance(other, Surd):
            return (self.a, self.b, self.d) == (other.a, other.b, other.d)
        return False if _rational(other) or isinstance(other, Lin | Exp) else NotImplemented

    def __hash__(self):
        return hash((self.a, self.b, self.d))

    def __lt__(self, other):
        return sign(self - other) < 0

    def __le__(self, other):
        return sign(self - other) <= 0

    def __gt__(self, other):
        return sign(self - other) > 0

    def __ge__(self, other):
        return sign(self - other) >= 0

    def __float__(self):
        return float(self.a + self.b * MP.sqrt(self.d))

    def __repr__(self):
        return f"({self.a} + {self.b} sqrt {self.d})"


def sign(x) -> int:
    if _rational(x):
        return (x > 0) - (x < 0)
    if isinstance(x, Lin | Surd):
        return x.sign()
    raise Unsupported(f"sign of {x!r}")


def sqrt(x):
    """The root >= 0 of a rational, exactly: a rational or a Surd."""
    x = Fraction(x)
    if x < 0:
        raise Unsupported(f"sqrt of {x}")
    if x == 0:
        return x
    n = x.numerator * x.denominator  # sqrt(a / b) = sqrt(a b) / b
    square, free = 1, 1
    for p, a in _factor(n) if n > 1 else ():
        square *= p ** (a // 2)
        free *= p ** (a % 2)
    return Surd.make(0, Fraction(square, x.denominator), free) if free > 1 else Fraction(square, x.denominator)


# --- SMT-LIB: parse, compile to closures, evaluate --------------------------------------------------

_TOKEN = re.compile(r";[^\n]*|\(|\)|[^\s()]+")


class Node(list):
    """A parsed list; `key` numbers its structure, so equal subterms compile once (`Script`)."""
    __slots__ = ("key",)


_COMMENT = re.compile(r";[^\n]*")


def parse(text: str, table: dict | None = None) -> list:
    """Every s-expression of the text, comments dropped: atoms are strings, lists are Nodes. Equal
    subterms are one Node, numbered through `table` (structure -> Node)."""
    table = {} if table is None else table
    stack = [[]]
    for tok in _COMMENT.sub("", text).replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            stack.append([])
        elif tok == ")":
            items = stack.pop()
            key = tuple(x if isinstance(x, str) else x.key for x in items)
            node = table.get(key)
            if node is None:
                node = table[key] = Node(items)
                node.key = len(table)
            stack[-1].append(node)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError("unbalanced parentheses")
    return stack[0]


class Arr:
    """An Int-indexed array: explicit entries, and a default (None: reading elsewhere is Unbound)."""

    __slots__ = ("items", "default", "name")

    def __init__(self, items=None, default=None, name="array"):
        self.items, self.default, self.name = dict(items or {}), default, name

    def __getitem__(self, k):
        v = self.items.get(k, self.default)
        if v is None:
            raise Unbound(f"{self.name}[{k}]")
        return v


def _atom(tok: str):
    if tok == "true":
        return True
    if tok == "false":
        return False
    if tok.isdigit():
        return int(tok)
    whole, dot, frac = tok.partition(".")
    if dot and whole.isdigit() and frac.isdigit():
        return Fraction(tok)
    return None


def _chain(op):
    def f(*xs):
        return all(op(a, b) for a, b in itertools.pairwise(xs))
    return f


def _minus(*xs):
    return -xs[0] if len(xs) == 1 else functools.reduce(lambda a, b: a - b, xs)


def _div(a, *bs):
    for b in bs:
        if _rational(a) and _rational(b):
            if b == 0:
                raise ZeroDivisionError("division by zero")
            a = Fraction(a) / b
        else:
            a = a / b
    return a


def _eq(*xs):
    return all(a == b for a, b in itertools.pairwise(xs))


FUNCS = {
    "=": _eq, "distinct": lambda *xs: all(a != b for a, b in itertools.combinations(xs, 2)),
    "<": _chain(lambda a, b: a < b), "<=": _chain(lambda a, b: a <= b),
    ">": _chain(lambda a, b: a > b), ">=": _chain(lambda a, b: a >= b),
    "+": lambda *xs: functools.reduce(lambda a, b: a + b, xs), "-": _minus,
    "*": lambda *xs: functools.reduce(lambda a, b: a * b, xs), "/": _div,
    "to_real": Fraction, "not": lambda a: not a, "select": lambda a, i: a[i],
    "abs": lambda a: a if sign(a) >= 0 else -a,
}


BINARY = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
          "+": operator.add, "-": operator.sub, "*": operator.mul, "/": _div, "select": operator.getitem,
          "distinct": operator.ne}


class Script:
    """Declarations (declare-const / declare-fun / define-fun) and terms compiled against them.

    A compiled term is f(g, l): g the global binding (name -> value; uninterpreted functions are
    Python callables), l the local one (quantified variables, define-fun parameters). Nullary
    define-funs are evaluated once per binding and cached in g."""

    def __init__(self, decls: str, window=None):
        self.sorts, self.macros, self.funs = {}, {}, set()
        self.window = window  # quantifiers range over window(g): an iterable of ints
        self.ids, self.shared, self.by_text = {}, {}, {}
        self.table = {}
        for d in self.parse(decls):
            if d[0] == "declare-const":
                self.sorts[d[1]] = d[2]
            elif d[0] == "declare-fun":
                self.funs.add(d[1])
            elif d[0] == "define-fun":
                self.macros[d[1]] = (tuple(p[0] for p in d[2]), d[4], None)
            # set-option, set-logic, assert: not declarations

    def macro(self, name):
        params, body, compiled = self.macros[name]
        if compiled is None:
            compiled = self.compile(body, frozenset(params))
            self.macros[name] = (params, body, compiled)
        return params, compiled

    def compile(self, e, scope=frozenset()):
        return self._compile(e, scope)[0]

    def _intern(self, key) -> int:
        return self.ids.setdefault(key, len(self.ids))

    def _compile(self, e, scope):
        """(closure, id): the id numbers a ground subterm (None inside a quantifier or macro body);
        equal ground subterms share one closure, and its value is computed once per binding (the
        encodings repeat large subterms, e.g. XTC's kept flags inside every mixture term)."""
        key = (e.key, scope) if isinstance(e, Node) else None
        if key is not None and key in self.by_text:
            return self.by_text[key]
        out = self._compile_new(e, scope)
        if key is not None:
            self.by_text[key] = out
        return out

    def _compile_new(self, e, scope):
        if isinstance(e, str):
            value = _atom(e)
            if value is not None:
                return (lambda g, loc, v=value: v), self._intern(("atom", e))
            if e in scope:
                return (lambda g, loc: loc[e]), None
            if e in self.macros and not self.macros[e][0]:
                def nullary(g, loc, name=e):
                    if name not in g:
                        g[name] = self.macro(name)[1](g, {})
                    return g[name]
                return nullary, self._intern(("atom", e))

            def lookup(g, loc, name=e):
                try:
                    return g[name]
                except KeyError:
                    raise Unbound(name) from None
            return lookup, self._intern(("atom", e))
        head = e[0]
        if isinstance(head, list):  # ((as const (Array Int Real)) v)
            if head[:2] == ["as", "const"]:
                f = self.compile(e[1], scope)
                return (lambda g, loc: Arr(default=f(g, loc), name="const")), None
            raise Unsupported(f"application of {head}")
        if head in ("forall", "exists"):
            names = [v[0] for v in e[1]]
            if any(v[1] != "Int" for v in e[1]):
                raise Unsupported(f"quantifier over {e[1]}")
            body = self.compile(e[2], scope | set(names))
            quant = all if head == "forall" else any

            def q(g, loc):
                window = list(self.window(g))
                return quant(body(g, {**loc, **dict(zip(names, vs, strict=True))})
                             for vs in itertools.product(window, repeat=len(names)))
            return q, None
        compiled = [self._compile(a, scope) for a in e[1:]]
        kids = [k for _, k in compiled]
        kid = None if None in kids else self._intern((head, *kids))
        if kid is not None and kid in self.shared:
            return self.shared[kid], kid
        f = self._node(head, [a for a, _ in compiled])
        if kid is not None:
            def memo(g, loc, f=f, kid=kid):
                m = g["__memo"]
                if kid in m:
                    return m[kid]
                v = m[kid] = f(g, loc)
                return v
            self.shared[kid] = f = memo
        return f, kid

    def _node(self, head, args):
        if head in ("and", "or") and len(args) == 2:
            a, b = args
            if head == "and":
                return lambda g, loc: a(g, loc) and b(g, loc)
            return lambda g, loc: a(g, loc) or b(g, loc)
        if head == "and":
            return lambda g, loc: all(a(g, loc) for a in args)
        if head == "or":
            return lambda g, loc: any(a(g, loc) for a in args)
        if head == "=>":
            return lambda g, loc: (not args[0](g, loc)) or args[1](g, loc)
        if head == "ite":
            return lambda g, loc: args[1](g, loc) if args[0](g, loc) else args[2](g, loc)
        if head in FUNCS:
            f = FUNCS[head]
            if head in BINARY and len(args) == 2:
                op, (a, b) = BINARY[head], args
                return lambda g, loc: op(a(g, loc), b(g, loc))
            if len(args) == 1:
                a = args[0]
                return lambda g, loc: f(a(g, loc))
            return lambda g, loc: f(*[a(g, loc) for a in args])
        if head in self.macros:
            params, _ = self.macro(head)

            def call(g, loc, name=head):
                values = [a(g, loc) for a in args]
                return self.macro(name)[1](g, dict(zip(params, values, strict=True)))
            return call

        def apply(g, loc, name=head):  # an uninterpreted function, bound in g
            try:
                f = g[name]
            except KeyError:
                raise Unbound(name) from None
            return f(*(a(g, loc) for a in args))
        return apply

    def parse(self, text: str) -> list:
        return parse(text, self.table)

    def term(self, text_or_expr, scope=frozenset()):
        e = self.parse(text_or_expr)[0] if isinstance(text_or_expr, str) else text_or_expr
        return self.compile(e, scope)


def evaluate(decls: str, term: str, binding: dict, window=range(-2, 6)):
    """Evaluate one ground term against declarations, e.g. evaluate(FIRST_MAX, "(first-max a 3 1)", ...)."""
    script = Script(decls, lambda g: window)
    return script.term(term)({**binding, "__memo": {}}, {})


def conjuncts(e) -> list:
    """A claim's conjunction, flattened."""
    if isinstance(e, list) and e and e[0] == "and":
        return [x for a in e[1:] for x in conjuncts(a)]
    return [e]


# --- an encoding: its premises (solved, then checked) and the two sides of each claim equality --------

class PremiseFalse(Exception):
    """A premise is false at the binding: the binding is not what the premises define."""


@dataclass
class _Definer:
    """`target = value` read off a premise, possibly under a quantifier with a guard."""
    name: str
    index: object  # compiled index term for (select name index), or None for a constant
    value: object
    guard: object = None
    qvars: tuple = ()


def _window(g):
    return range(-2, g["__n"] + 2)


class Encoded:
    """decls + premises + claim, compiled once; `bind` solves and checks a binding per row."""

    def __init__(self, decls: str, premises: list[str], claim: str, name: str = ""):
        self.name = name
        self.script = Script(decls, _window)
        exprs = [self.script.parse(p)[0] for p in premises]
        self.premises = [(p, self.script.compile(e)) for p, e in zip(premises, exprs, strict=True)]
        self.definers = [d for e in exprs for d in self._definers(e, None, ())]
        self.sides = []
        for c in conjuncts(self.script.parse(claim)[0]):
            if not (isinstance(c, list) and c[0] == "=" and len(c) == 3):
                raise Unsupported(f"claim conjunct is not an equality: {c}")
            self.sides.append((self.script.compile(c[1]), self.script.compile(c[2])))

    def _definers(self, e, guard, qvars):
        if not isinstance(e, list) or not e:
            return []
        if e[0] == "and":
            return [d for a in e[1:] for d in self._definers(a, guard, qvars)]
        if e[0] == "forall" and guard is None and not qvars and all(v[1] == "Int" for v in e[1]):
            names = tuple(v[0] for v in e[1])
            body = e[2]
            if isinstance(body, list) and body and body[0] == "=>":
                return self._definers(body[2], self.script.compile(body[1], frozenset(names)), names)
            return self._definers(body, None, names)
        if e[0] != "=" or len(e) != 3:
            return []
        scope, out = frozenset(qvars), []
        for target, value in ((e[1], e[2]), (e[2], e[1])):
            if isinstance(target, str) and target in self.script.sorts:
                out.append(_Definer(target, None, self.script.compile(value, scope), guard, qvars))
            elif isinstance(target, list) and target[0] == "select" and isinstance(target[1], str) \
                    and target[1] in self.script.sorts:
                out.append(_Definer(target[1], self.script.compile(target[2], scope),
                                    self.script.compile(value, scope), guard, qvars))
        return out

    def _define(self, d: _Definer, g, loc) -> bool:
        try:
            if d.guard is not None and not d.guard(g, loc):
                return False
            if d.index is None:
                if d.name in g:
                    return False
                g[d.name] = d.value(g, loc)
                return True
            arr, k = g.get(d.name), d.index(g, loc)
            if arr is not None and (k in arr.items or arr.default is not None):
                return False
            value = d.value(g, loc)
            if arr is None:
                arr = g[d.name] = Arr(name=d.name)
            arr.items[k] = value
            return True
        except Unbound:
            return False

    def solve(self, g: dict, hand=None) -> dict:
        """Bind what the premises define, and what `hand(g)` binds (max, argmax, sigma), to a fixpoint."""
        while True:
            changed = False
            for d in self.definers:
                if d.qvars:
                    for vs in itertools.product(_window(g), repeat=len(d.qvars)):
                        changed |= self._define(d, g, dict(zip(d.qvars, vs, strict=True)))
                else:
                    changed |= self._define(d, g, {})
            if hand is not None:
                changed |= bool(hand(g))
            if not changed:
                return g

    def check(self, g: dict):
        self._hold(self.premises, g)

    @staticmethod
    def _hold(premises, g: dict, defer: bool = False) -> list:
        """Every premise must be true at g. defer: premises reading something not bound yet (the
        free index) are returned for later instead of being an error."""
        pending = []
        for text, f in premises:
            try:
                ok = f(g, {})
            except Unbound as e:
                if defer:
                    pending.append((text, f))
                    continue
                raise Unsupported(f"premise {text} reads {e}, which nothing binds") from None
            if ok is not True:
                raise PremiseFalse(text)
        return pending

    def run(self, inputs: dict, hand=None) -> tuple[list, list]:
        """Solve, check every premise, and evaluate both sides of every claim equality."""
        g = self.solve({**inputs, "__memo": {}}, hand)
        self.check(g)
        return self._sides(g)

    def _sides(self, g):
        return [_value(a, g) for a, _ in self.sides], [_value(b, g) for _, b in self.sides]

    def run_indexed(self, inputs: dict, index: str, values, hand=None) -> tuple[list, list]:
        """`run` for each value of a free Int constant (the token i, the index k of first-max):
        returns, per side, the list of each claim term's values over `values` (one list per term).
        What does not depend on the index is solved and checked once."""
        g0 = self.solve({**inputs, "__memo": {}}, hand)
        pending = self._hold(self.premises, g0, defer=True)
        left, right = [[] for _ in self.sides], [[] for _ in self.sides]
        for v in values:
            g = {k: Arr(x.items, x.default, x.name) if isinstance(x, Arr) else x for k, x in g0.items()}
            g.update({index: v, "__memo": dict(g0["__memo"])})
            self.solve(g, hand)
            self._hold(pending, g)
            a, b = self._sides(g)
            for out, vals in ((left, a), (right, b)):
                for lst, x in zip(out, vals, strict=True):
                    lst.append(x)
        return left, right


class Undefined:
    """A claim term with no value (a division by zero, which SMT-LIB leaves unspecified): never a
    kept token, and NaN as a probability, so it can only disagree with the spec."""

    def __init__(self, reason):
        self.reason = reason

    def __float__(self):
        return math.nan

    def __repr__(self):
        return f"undefined ({self.reason})"


def _value(f, g):
    try:
        return f(g, {})
    except Unbound as e:
        raise Unsupported(f"the claim reads {e}, which nothing binds") from None
    except ZeroDivisionError as e:
        return Undefined(e)


class Recorder:
    """A stand-in for proofs.core.Context: records each query text that `proof` would solve."""

    def __init__(self, max_n: int = 8, full: bool = False):
        self.max_n, self.full, self.timeout, self.rlimit = max_n, full, 1.0, 1
        self.queries, self.steps = {}, []

    def proof(self, name, what, decls, premises, claim, show=(), witness=(), false_claim=False):
        self.queries[name] = (decls, list(premises), claim)
        return []

    def step(self, *args, **kwargs):
        return None

    def z3(self, query, title):
        raise RuntimeError("fidelity: the recorder runs no solver")

    z3_batch = z3


def captured(run, max_n: int = 8) -> dict:
    """{query name: (decls, premises, claim)} of a theorem's run, no solver called."""
    rec = Recorder(max_n)
    run(rec)
    return rec.queries


# --- spec.target, and the comparison ------------------------------------------------------------------

EXACT_TOL = (0.0, 0.0)
NEAR_TOL = (1e-9, 1e-9)  # rows where float64 is not exact: decisions this close are boundary, not compared


def spec_target(logits, steps, tol):
    from spec.numerics import Tolerance
    from spec.target import target
    from spec.transforms import Pipeline
    return target(np.asarray(logits, dtype=np.float64), Pipeline(tuple(steps)), tol=Tolerance(*tol))


def spec_sets(t) -> tuple[set, set]:
    return set(np.flatnonzero(t.support).tolist()), set(np.flatnonzero(t.boundary).tolist())


def agrees(kept: set, support: set, boundary: set) -> bool:
    """The encoding keeps what the spec keeps on every token that is not a boundary token."""
    return not ((kept ^ support) - boundary)


def keep_set(values) -> set:
    return {i for i, v in enumerate(values) if v is True}


@dataclass
class Tally:
    rows: int = 0
    ties: int = 0
    exact: int = 0
    skipped: int = 0
    blind: int = 0
    mismatch: str = ""
    error: str = ""

    def row(self, tie: bool, exact: bool):
        self.rows += 1
        self.ties += bool(tie)
        self.exact += bool(exact)

    def fail(self, text: str):
        if not self.mismatch:
            self.mismatch = text

    @property
    def done(self) -> bool:
        return bool(self.mismatch or self.error)


def _fmt(xs) -> str:
    return "(" + ", ".join(str(x) for x in xs) + ")"


def _sorted(s) -> str:
    return "{" + ", ".join(map(str, sorted(s))) + "}"


def _compare(tally: Tally, what: str, kept: set, t, row_text: str) -> bool:
    support, boundary = spec_sets(t)
    if agrees(kept, support, boundary):
        return True
    tally.fail(f"{what} on {row_text}: the encoding keeps {_sorted(kept)}, spec.target keeps {_sorted(support)} "
               f"(boundary {_sorted(boundary)})")
    return False


# --- rows ---------------------------------------------------------------------------------------------

def weights(rng: random.Random, n: int) -> list[int]:
    """n small integer weights q_i (logits log q_i) with many ties: drawn from a pool of 1..3 values,
    every fourth row from powers of two (float64 then often computes the probabilities exactly)."""
    pool = [1, 2, 4, 8] if rng.random() < 0.25 else list(range(1, 10))
    pool = rng.sample(pool, rng.randint(1, min(3, len(pool))))
    return [rng.choice(pool) for _ in range(n)]


def exact_weights(rng: random.Random, n: int) -> list[int]:
    """Weights whose probabilities float64 computes exactly (`float_exact`), if a few draws find one."""
    for _ in range(30):
        q = [rng.choice([1, 1, 2, 2, 4, 8]) for _ in range(n)]
        if float_exact(q):
            return q
    return weights(rng, n)


def probs(q) -> list[Fraction]:
    return [Fraction(x, sum(q)) for x in q]


def float_exact(q) -> bool:
    """spec.target's float64 softmax of log q is exactly q / sum(q), and every mass of the row is
    dyadic: then the spec's float64 decisions at exact boundaries are exact ones."""
    from spec.numerics import softmax
    p = probs(q)
    return all(x.denominator & (x.denominator - 1) == 0 for x in p) and \
        softmax(np.log(np.asarray(q, dtype=np.float64))).tolist() == [float(x) for x in p]


def tied(values) -> bool:
    return len(set(values)) < len(values)


def logits(q) -> list:
    return [lg(Fraction(x)) for x in q]


def masses(p, order_key) -> list:
    """The masses before each token in the given order: candidate parameters on exact boundaries."""
    ranked = sorted(range(len(p)), key=order_key)
    out, acc = [], Fraction(0)
    for i in ranked:
        out.append(acc)
        acc += p[i]
    return out


def _first_index_max(values) -> int:
    top = max(values)
    return next(i for i, v in enumerate(values) if v == top)


# --- the rules ----------------------------------------------------------------------------------------

def _side_rows(tally, what, sides, rows_for_spec, steps, tol, row_text) -> bool:
    """Compare the keep-set of each side with spec.target on that side's row."""
    ok, targets = True, {}
    for label, values, row in zip(("z", "z - c"), sides, rows_for_spec, strict=True):
        key = tuple(float(v) for v in row)
        if key not in targets:
            targets[key] = spec_target(key, steps, tol)
        ok = ok and _compare(tally, f"{what} (rule read on {label})", keep_set(values), targets[key], row_text)
    return ok


def _argmax_one_hot(rows, rng, tally):
    """order.argmax_shift's bounded one-hot queries, n = 1..8: zfirst_i (and yfirst_i) must be the
    one-hot vector of spec's greedy token. Integer logits, many ties: float64 is exact."""
    from spec.transforms import Temperature
    queries = captured(order.argmax_shift, 8)
    enc = {n: Encoded(*queries[f"bounded.n{n}"]) for n in range(1, 9)}
    def one(r):
        n = 1 + r % 8
        z = [Fraction(rng.randint(0, 3)) for _ in range(n)]
        c = rng.choice([Fraction(0), Fraction(1, 2), Fraction(3), Fraction(-5, 4)])
        y = [v - c for v in z]

        def hand(g, n=n):
            new = False
            for v in "zy":
                if f"{v}max" not in g and all(f"{v}{i}" in g for i in range(n)):
                    g[f"{v}max"] = max(g[f"{v}{i}"] for i in range(n))
                    new = True
            return new
        left, right = enc[n].run({**{f"z{i}": z[i] for i in range(n)}, "c": c, "__n": n}, hand)
        tally.row(z.count(max(z)) > 1, z.count(max(z)) > 1)  # tied maxima: the first index decides
        if not _side_rows(tally, "argmax one-hot", (left, right), (z, y), [Temperature(0.0)], EXACT_TOL,
                          f"z = {_fmt(z)}, c = {c}"):
            return
    _drive(one, rows, tally)


def _first_max(rows, rng, tally):
    """FIRST_MAX as order.invariance uses it: greedy on z - c (argmax-shift), on z - lse(z)
    (greedy-logprobs) and on z / T (temperature-shift). Logits log q_i; the claim's free k ranges
    over the window, and {k : first-max} must be {spec's greedy token}."""
    from spec.transforms import Temperature
    queries = {**{f"shift:{k}": v for k, v in captured(order.argmax_shift, 1).items() if k == "unbounded.invariance"},
               "lse": captured(order.greedy_logprobs)["unbounded"],
               "temperature": captured(order.temperature_argmax)["argmax"]}
    enc = {k: Encoded(*v) for k, v in queries.items()}
    kinds = list(enc)
    def one(r):
        n, kind = 1 + r % 8, kinds[r % len(kinds)]
        q = weights(rng, n)
        z = logits(q)
        base = {"z": Arr(dict(enumerate(z)), default=Fraction(0), name="z"), "n": n, "__n": n}
        hand = None
        if kind == "lse":
            base["lse"] = lambda a, m: lg(sum(exp(a[i]) for i in range(m)))
            y = [v - lg(Fraction(sum(q))) for v in z]
        elif kind == "temperature":
            t = rng.choice([Fraction(1, 2), Fraction(3), Fraction(2, 3), Fraction(1)])
            base["T"] = t

            def hand(g, t=t):
                if "y" in g:
                    return False
                g["y"] = Arr({i: g["z"][i] / t for i in _window(g)}, name="y")
                return True
            y = [v / t for v in z]
        else:
            c = rng.choice([Fraction(7, 4), lg(Fraction(sum(q))), Fraction(0)])
            base["c"] = c
            y = [v - c for v in z]
        window = list(_window(base))
        a, b = enc[kind].run_indexed(base, "k", window, hand)
        left, right = list(zip(window, a[0], strict=True)), list(zip(window, b[0], strict=True))
        tally.row(tied(q), q.count(max(q)) > 1)  # tied maxima: the first index decides
        for label, side, row in (("z", left, z), ("the shifted row", right, y)):
            kept = {k for k, v in side if v is True}
            t = spec_target([float(v) for v in row], [Temperature(0.0)], EXACT_TOL)
            if not _compare(tally, f"first-max ({kind}, rule read on {label})", kept, t, f"q = {_fmt(q)}"):
                return
    _drive(one, rows, tally)


def _top_k(rows, rng, tally):
    """filters-shift's top-k: the rank-count queries n = 1..8 (both tie rules) and, every third row,
    the unbounded rank arrays of top-k.rank (token i free: one evaluation per i). Integer logits."""
    from spec.transforms import TopK
    queries = captured(order.filters_shift)
    enc = {n: Encoded(*queries[f"top-k.count-n{n}"]) for n in range(1, 9)}
    rank = Encoded(*queries["top-k.rank"])
    def one(r):
        n = 1 + r % 8
        z = [Fraction(rng.randint(0, 3)) for _ in range(n)]
        c, k = rng.choice([Fraction(0), Fraction(5, 2), Fraction(-1)]), rng.randint(1, n + 1)
        y = [v - c for v in z]
        ordered = sorted(z, reverse=True)
        tally.row(tied(z), k < n and ordered[k - 1] == ordered[k])
        text = f"z = {_fmt(z)}, c = {c}, k = {k}"
        if r % 3 == 0:
            a, b = rank.run_indexed({"z": Arr(dict(enumerate(z)), default=Fraction(0), name="z"), "c": c, "n": n,
                                     "k": k, "__n": n}, "i", range(n))
            sides = {e: (a[pos], b[pos]) for e, pos in ((True, 0), (False, 1))}
            what = "top-k.rank"
        else:
            a, b = enc[n].run({**{f"z{i}": z[i] for i in range(n)}, "c": c, "k": k, "__n": n})
            sides = {e: (a[e::2], b[e::2]) for e in (False, True)}
            what = f"top-k.count-n{n}"
        for e, ties in ((False, "all"), (True, "any")):
            if not _side_rows(tally, f"{what} ({'exactly k, ties by index' if e else 'ties kept'})", sides[e],
                              (z, y), [TopK(k, ties=ties)], EXACT_TOL, text):
                return
    _drive(one, rows, tally)


def _prob_tol(q, *params) -> tuple:
    """Exact comparison where float64 computes the probabilities and parameters exactly."""
    dyadic = all(Fraction(float(x)) == x for x in params)
    return EXACT_TOL if dyadic and float_exact(q) else NEAR_TOL


def _top_p(rows, rng, tally):
    """filters-shift's top-p: the bounded queries n = 1..6 (weights e_i = q_i, probabilities as
    the premises define them) and, every third row, the unbounded array encoding (token i free).
    p is an exact cumulative mass of the row in half the rows."""
    from spec.transforms import TopP
    queries = captured(order.filters_shift)
    enc = {n: Encoded(*queries[f"top-p.n{n}"]) for n in range(1, 7)}
    unbounded = Encoded(*queries["top-p.keep"])
    def one(r):
        n = 1 + r % 6
        q = exact_weights(rng, n) if r % 2 else weights(rng, n)
        p = probs(q)
        before = masses(p, lambda i: (-p[i], i))
        top_p = rng.choice(before[1:] or [Fraction(1)]) if rng.random() < 0.5 else \
            rng.choice([Fraction(0), Fraction(1), Fraction(rng.randint(1, 15), 16), Fraction(rng.randint(1, 9), 10)])
        min_keep, t = rng.choice([1, 1, 2, 3]), rng.choice([Fraction(1), Fraction(1, 3), Fraction(5, 2)])
        tol = _prob_tol(q, top_p)
        tally.row(tied(q), tol == EXACT_TOL and top_p in before[1:])
        text = f"q = {_fmt(q)} (logits log q), p = {top_p}, min_tokens_to_keep = {min_keep}"
        if r % 3 == 0:
            x, y = unbounded.run_indexed({"e": Arr(dict(enumerate(map(Fraction, q))), name="e"), "t": t, "n": n,
                                          "top_p": top_p, "min_keep": min_keep, "__n": n}, "i", range(n))
            a, b = x[0], y[0]
            what = "top-p.keep (unbounded)"
        else:
            a, b = enc[n].run({**{f"e{i}": Fraction(q[i]) for i in range(n)}, "t": t, "top_p": top_p,
                               "min_keep": min_keep, "__n": n})
            what = f"top-p.n{n}"
        z = np.log(np.asarray(q, dtype=np.float64))
        if not _side_rows(tally, what, (a, b), (z, z), [TopP(float(top_p), min_tokens_to_keep=min_keep)], tol, text):
            return
    _drive(one, rows, tally)


def _min_p(rows, rng, tally):
    """filters-shift's min-p: min-p.keep (log space, z_i >= max(z) + log m, on z and z - c) and
    min-p.prob-space (that test and p_i >= m max(p)), token i free. Logits log q_i, log m bound to
    the exact log of m, so m = q_j / q_max puts tokens exactly on the cut; float64 decides only
    m = 1 exactly (log m = 0), so other rows compare tokens off the cut."""
    from spec.transforms import MinP
    queries = captured(order.filters_shift)
    keep, space = Encoded(*queries["min-p.keep"]), Encoded(*queries["min-p.prob-space"])
    def one(r):
        n = 1 + r % 6
        q = weights(rng, n)
        z = logits(q)
        m = rng.choice([Fraction(1), Fraction(rng.choice(q), max(q)), Fraction(rng.randint(1, 8), 8),
                        Fraction(1, 10)])
        logm = lg(m)
        tol = EXACT_TOL if m == 1 else NEAR_TOL
        tally.row(tied(q), tol == EXACT_TOL and q.count(max(q)) > 1)
        text = f"q = {_fmt(q)} (logits log q), m = {m}"
        zarr = Arr(dict(enumerate(z)), default=Fraction(0), name="z")
        for name, e in (("min-p.keep", keep), ("min-p.prob-space", space)):
            c = rng.choice([Fraction(3, 2), lg(Fraction(sum(q)))])

            def hand(g, n=n, e=e):
                new = False
                for arr, k in (("z", "kz"), ("y", "ky"), ("p", "kp")):
                    if k in e.script.sorts and k not in g and arr in g:
                        try:
                            g[k] = _first_index_max([g[arr][j] for j in range(n)])
                            new = True
                        except Unbound:
                            pass
                if "S" in e.script.sorts and "S" not in g and "e" in g:
                    try:
                        g["S"] = sum(g["e"][j] for j in range(n))
                        new = True
                    except Unbound:
                        pass
                return new
            x, y = e.run_indexed({"z": zarr, "c": c, "logm": logm, "n": n, "Exp": exp, "__n": n}, "i", range(n), hand)
            a, b = x[0], y[0]
            zf = np.log(np.asarray(q, dtype=np.float64))
            labels = ("z", "z - c") if name == "min-p.keep" else ("log space", "probability space")
            t = spec_target(zf, [MinP(float(m))], tol)
            for label, side in zip(labels, (a, b), strict=True):
                if not _compare(tally, f"{name} ({label})", keep_set(side), t, text):
                    return
    _drive(one, rows, tally)


def _sampler(rule):
    """samplers.rule_query(rule, n), n = 1..MAX_N: logits z_i = log q_i, probabilities q_i / sum(q),
    shift c (log sum(q), so z - c are the log-probabilities, or a rational); lg = log, E = exp. The
    rule's outputs on the row and on its shift (the claim's two sides) against spec.target."""
    from spec.transforms import XTC, EpsilonCutoff, EtaCutoff, TypicalP

    def run(rows, rng, tally):
        enc = {}
        def one(r):
            n = 1 + r % samplers.MAX_N
            if n not in enc:
                rows_, claim = samplers.rule_query(rule, n)
                enc[n] = (Encoded("\n".join([samplers.HEADER, *rows_.decls]), rows_.premises, claim), rows_.pre)
            e, pre = enc[n]
            q = exact_weights(rng, n) if r % 2 and rule in ("epsilon", "xtc") else weights(rng, n)
            p, z = probs(q), logits(q)
            c = rng.choice([lg(Fraction(sum(q))), Fraction(5, 2)])
            inputs = {f"{pre}c": c, "lg": lg, "E": exp, "__n": n, **{f"{pre}z{i}": z[i] for i in range(n)},
                      **{f"{pre}p{i}": p[i] for i in range(n)}}
            min_keep = rng.choice([0, 0, 1, 2, 3] if rule == "xtc" else [1, 1, 2, 3])
            inputs[f"{pre}min_keep"] = min_keep
            zf = np.log(np.asarray(q, dtype=np.float64))
            text = f"q = {_fmt(q)} (logits log q), min_keep = {min_keep}"
            hand, boundary = None, False
            if rule == "typical":
                h = -sum(x * lg(x) for x in p)
                score = [abs(-lg(x) - h) for x in p]
                if any(score[i] == score[j] and p[i] != p[j] for i, j in itertools.combinations(range(n), 2)):
                    raise FloatBlind
                before = masses(p, functools.cmp_to_key(lambda i, j: sign(score[i] - score[j]) or (i > j) - (i < j)))
                mass = rng.choice(before[1:] or [Fraction(1)]) if rng.random() < 0.5 else \
                    rng.choice([Fraction(0), Fraction(1), Fraction(rng.randint(1, 9), 10)])
                inputs[f"{pre}mass"] = mass
                tol, boundary, text = NEAR_TOL, mass in before[1:], text + f", mass = {mass}"
                groups = [(f"ties {ties}", [TypicalP(float(mass), min_keep, ties)], slice(k, None, 2))
                          for k, ties in ((0, "any"), (1, "all"))]
            elif rule in ("epsilon", "eta"):
                eps = rng.choice([*p, Fraction(0), Fraction(1), Fraction(1, 4), Fraction(1, 16), Fraction(1, 9),
                                  Fraction(9, 100), Fraction(1, 2)])
                inputs[f"{pre}eps"] = eps
                if rule == "eta":
                    root = Fraction(0) if eps == 0 else exp(lg(eps) / 2)

                    def hand(g, root=root):
                        if f"{pre}root" in g:
                            return False
                        g[f"{pre}root"] = root
                        return True
                tol = _prob_tol(q, eps) if rule == "epsilon" else NEAR_TOL
                boundary, text = eps in p, text + f", epsilon = {eps}"
                step = EpsilonCutoff if rule == "epsilon" else EtaCutoff
                groups = [(rule, [step(float(eps), min_keep)], slice(None))]
            else:
                # a threshold on a probability only where float64 is exact: spec.target's XTC does not
                # flag every token a near-threshold token decides (see the module's report)
                thr = rng.choice([*(p if float_exact(q) else ()), Fraction(0), Fraction(1, 8), Fraction(1, 4),
                                  Fraction(1, 2), Fraction(1), Fraction(1, 10)])
                chance = rng.choice([Fraction(0), Fraction(1, 2), Fraction(1), Fraction(1, 4)])
                special = tuple(i for i in range(n) if rng.random() < 0.2)
                inputs.update({f"{pre}thr": thr, f"{pre}chance": chance,
                               **{f"{pre}special{i}": i in special for i in range(n)}})
                tol, boundary = _prob_tol(q, thr), thr in p
                text += f", threshold = {thr}, chance = {chance}, special tokens {_sorted(special)}"
                groups = []
                for v, (above, ties) in enumerate(itertools.product((">", ">="), ("all", "any"))):
                    step = XTC(1.0, float(thr), above, ties, special, min_keep)
                    groups.append((f"above {above}, ties {ties}", [step], slice(2 * n * v, 2 * n * v + n)))
            tally.row(tied(q), boundary and tol == EXACT_TOL)
            left, right = e.run(inputs, hand)
            for label, steps, part in groups:
                t = spec_target(zf, steps, tol)  # both sides read the same probabilities: one target
                mixed = spec_target(zf, [_with_chance(steps[0], float(chance))], tol).probs \
                    if rule == "xtc" and not t.boundary.any() and 0 < chance < 1 else t.probs
                for side, values in (("z", left), ("z - c", right)):
                    if not _compare(tally, f"{rule} ({label}, rule read on {side})", keep_set(values[part]), t, text):
                        return
                    if rule == "xtc" and not t.boundary.any():
                        if chance == 0:
                            mixed = spec_target(zf, [], tol).probs
                        start = part.start + n
                        got = [float(x) for x in values[start:start + n]]
                        if not np.allclose(got, mixed, rtol=0, atol=1e-9):
                            tally.fail(f"xtc mixture ({label}, {side}) on {text}: the encoding gives {_fmt(got)}, "
                                       f"spec.target {_fmt(mixed.tolist())}")
                            return
        _drive(one, rows, tally)
    return run


def _with_chance(step, chance):
    import dataclasses
    return dataclasses.replace(step, probability=chance)


def _top_n_sigma(rows, rng, tally):
    """samplers.sigma_rows(n, scale), n = 1..MAX_N, shift (z, z - c) and scale (z = T y): the keep
    query's premises with its lemmas; sigma bound to the exact root of the variance (a rational or
    a Surd) and checked by the premises s >= 0, s^2 = var. Integer or half-integer logits."""
    from spec.transforms import TopNSigma
    enc = {}
    def one(r):
        n, scale = 1 + r % samplers.MAX_N, bool(r // samplers.MAX_N % 2)
        if (n, scale) not in enc:
            rows_, lemmas, claim = samplers.sigma_rows(n, scale)
            enc[n, scale] = (Encoded("\n".join([samplers.HEADER, *rows_.decls]), [*rows_.premises, *lemmas], claim),
                             rows_.pre)
        e, pre = enc[n, scale]
        base = [Fraction(rng.randint(0, 8), rng.choice([1, 2])) for _ in range(n)]
        factor = rng.choice([Fraction(1, 2), Fraction(2), Fraction(3, 4)]) if scale else \
            rng.choice([Fraction(0), Fraction(3, 2), Fraction(-7)])
        inputs = {f"{pre}{'T' if scale else 'c'}": factor, "__n": n, "lg": lg, "E": exp,
                  **{f"{pre}{'y' if scale else 'z'}{i}": base[i] for i in range(n)}}
        z = [factor * v for v in base] if scale else base
        y = base if scale else [v - factor for v in base]
        mean = sum(z) / n
        sigma = sqrt(sum((v - mean) ** 2 for v in z) / n)
        ks = [Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(1, 4)]
        if _rational(sigma) and sigma > 0:
            ks += [(max(z) - v) / sigma for v in z if v < max(z)]
        k = rng.choice(ks)
        inputs[f"{pre}k"] = k

        def hand(g):
            new = False
            for v in "zy":
                if f"{pre}sigma_{v}" not in g and f"{pre}var_{v}" in g:
                    g[f"{pre}sigma_{v}"] = sqrt(g[f"{pre}var_{v}"])
                    new = True
            return new
        left, right = e.run(inputs, hand)
        on_cut = False
        for label, values, row in (("z", left, z), ("z / T" if scale else "z - c", right, y)):
            m = sum(row) / n
            s = sqrt(sum((v - m) ** 2 for v in row) / n)
            thr = max(row) - k * s
            rf = np.asarray([float(v) for v in row])
            exact = _rational(thr) and Fraction(float(thr)) == thr and rf.max() - float(k) * rf.std() == float(thr) \
                and all(Fraction(x) == v for x, v in zip(rf, row, strict=True)) and Fraction(float(k)) == k
            on_cut |= exact and any(v == thr for v in row)
            t = spec_target(rf, [TopNSigma(float(k))], EXACT_TOL if exact else NEAR_TOL)
            if not _compare(tally, f"top-n-sigma ({'scale' if scale else 'shift'}, rule read on {label})",
                            keep_set(values), t, f"z = {_fmt(z)}, k = {k}"):
                return
        tally.row(tied(z), on_cut)
    _drive(one, rows, tally)


def _penalty(rows, rng, tally):
    """rules.PENALTY_SMT, each engine's term with v and theta bound, against spec's
    RepetitionPenalty applied to a row of seen tokens: dyadic v and theta, so float64 division and
    multiplication round the exact value once and must match it exactly; v = 0 in every row."""
    from spec.numerics import Tolerance
    from spec.transforms import History, RepetitionPenalty, Row
    script = Script("(declare-const v Real)\n(declare-const theta Real)")
    terms = {engine: script.term(text) for engine, text in rules.PENALTY_SMT.items()}
    def one(r):
        theta = rng.choice([Fraction(1, 2), Fraction(5, 4), Fraction(2), Fraction(3, 4), Fraction(3, 2), Fraction(1)])
        vs = [Fraction(0)] + [Fraction(rng.randint(-12, 12), 4) for _ in range(7)]
        row = Row(np.array([float(v) for v in vs]), np.array([float(v) for v in vs]), np.ones(8, bool),
                  np.zeros(8, bool), Tolerance(0.0, 0.0))
        RepetitionPenalty(float(theta)).apply(row, History(output=tuple(range(8))))
        tally.row(tied(vs), True)
        for engine, f in terms.items():
            text = rules.PENALTY_SMT[engine]
            got = [f({"v": v, "theta": theta, "__memo": {}}, {}) for v in vs]
            if [float(x) for x in got] != row.z.tolist():
                tally.fail(f"repetition penalty ({engine}: {text}), theta = {theta}, v = {_fmt(vs)}: the encoding "
                           f"gives {_fmt(got)}, spec {_fmt(row.z.tolist())}")
                return
    _drive(one, rows, tally)


CHAIN = ("temperature", "top-k", "top-k-exact", "top-p", "min-p", "bias", "shift")  # what the Encoder encodes


def _spec_step(name, prm):
    from spec.transforms import LogitBias, MinP, Temperature, TopK, TopP
    return {"temperature": lambda: [Temperature(float(prm["T"]))], "top-k": lambda: [TopK(prm["K"], "all")],
            "top-k-exact": lambda: [TopK(prm["K"], "any")], "top-p": lambda: [TopP(float(prm["P"]))],
            "min-p": lambda: [MinP(float(prm["M"]))], "shift": lambda: [],
            "bias": lambda: [LogitBias({i: float(b) for i, b in enumerate(prm["b"])})]}[name]()


def _commute_chains(rows, rng, tally):
    """commute_proof.plan(a, b, n) for every pair of the Encoder's transforms and n = 1..MAX_N: the
    whole proof query (definitions, constraints, the facts about exp and the lemma instances, all
    evaluated and required true) on logits log q_i with an initial mask, T in {1, 1/2, 1/3} (so the
    weights stay rational), bias b_i = log beta_i, shift c = log t or the logsumexp. The claim's left
    side is a then b, its right side b then a: each chain's keep-set against spec.target's, and its
    probabilities where the spec has no boundary token."""
    pairs = list(itertools.combinations(CHAIN, 2))
    plans = {}
    def one(r):
        (a, b), n = pairs[r % len(pairs)], 1 + (r // len(pairs)) % commute_proof.MAX_N
        if (a, b, n) not in plans:
            plan = commute_proof.plan(a, b, n)
            decls = "\n".join(["(declare-fun E (Real) Real)", *(m.define() for m in plan.macros),
                               *plan.enc.decls.values()])
            plans[a, b, n] = (Encoded(decls, [*plan.enc.defs.values(), *plan.enc.constraints, *plan.facts],
                                      plan.claim), plan.enc.pre)
        e, pre = plans[a, b, n]
        q = weights(rng, n)
        kept = [rng.random() < 0.8 for _ in range(n)]
        kept[rng.randrange(n)] = True
        prm = {"T": rng.choice([Fraction(1), Fraction(1, 2), Fraction(1, 3)]), "K": rng.randint(1, n + 1),
               "P": rng.choice([Fraction(rng.randint(1, 16), 16), Fraction(rng.randint(1, 10), 10)]),
               "M": rng.choice([Fraction(1), Fraction(rng.randint(1, 8), 8), Fraction(1, 10)]),
               "b": [lg(Fraction(rng.choice([1, 1, 2, 3]))) for _ in range(n)]}
        c = rng.choice([lg(Fraction(sum(q))), lg(Fraction(rng.randint(1, 9)))])
        inputs = {"E": exp, "__n": n, f"{pre}T": prm["T"], f"{pre}K": prm["K"], f"{pre}P": prm["P"],
                  f"{pre}M": prm["M"], f"{pre}c": c, **{f"{pre}z{i}": lg(Fraction(q[i])) for i in range(n)},
                  **{f"{pre}k{i}": kept[i] for i in range(n)}, **{f"{pre}b{i}": prm["b"][i] for i in range(n)}}
        if f"{pre}lam" in e.script.sorts:
            inputs[f"{pre}lam"] = lg(prm["M"])
        left, right = e.run(inputs)
        zf = [float(np.log(x)) if k else -np.inf for x, k in zip(q, kept, strict=True)]
        alive = [x for x, k in zip(q, kept, strict=True) if k]
        exact = {a, b} <= {"top-k", "top-k-exact", "top-p", "shift"} and float_exact(alive) \
            and Fraction(float(prm["P"])) == prm["P"]
        tol = EXACT_TOL if exact else NEAR_TOL
        tally.row(tied(alive), exact)
        text = (f"q = {_fmt(q)} (logits log q), kept initially {_sorted(i for i in range(n) if kept[i])}, "
                f"T = {prm['T']}, K = {prm['K']}, p = {prm['P']}, m = {prm['M']}, "
                f"bias exp(b) = {_fmt(exp(x) for x in prm['b'])}")
        for first, second, values in ((a, b, left), (b, a, right)):
            t = spec_target(zf, [*_spec_step(first, prm), *_spec_step(second, prm)], tol)
            if not _compare(tally, f"{first} then {second}", keep_set(values[:n]), t, text):
                return
            got = [float(x) for x in values[n:]]
            if not t.boundary.any() and not np.allclose(got, t.probs, rtol=0, atol=1e-9):
                tally.fail(f"{first} then {second} on {text}: the encoding's probabilities {_fmt(got)}, "
                           f"spec.target's {_fmt(t.probs.tolist())}")
                return
    _drive(one, rows, tally)


class _Coin:
    """A stand-in generator for spec.validator.generation.rejection_verify: random() * q < p is decided as
    `accept` says (the draw's law is read off, not sampled), choice(...) records the residual."""

    def __init__(self, accept):
        self.accept, self.residual = accept, None

    def random(self):
        return self

    def __mul__(self, other):
        return self

    def __lt__(self, other):
        return self.accept

    def choice(self, size, p=None):
        self.residual = np.asarray(p, dtype=np.float64)
        return 0


def _verifier_law(p, q) -> np.ndarray:
    """The output distribution of spec.validator.generation.rejection_verify for one draft d ~ q: with u
    uniform on [0, 1), P(u q(d) < p(d)) = min(1, p(d) / q(d)); on rejection, the distribution it
    hands rng.choice."""
    from spec.validator.generation import rejection_verify
    ps, qs = [np.array([float(x) for x in p])] * 2, [np.array([float(x) for x in q])] * 2
    out = np.zeros(len(p))
    for d, qd in enumerate(q):
        if qd == 0:
            continue
        accept = min(Fraction(1), p[d] / qd)
        assert rejection_verify(ps, qs, [d], _Coin(True))[0] == d
        out[d] += float(qd * accept)
        if accept < 1:
            coin = _Coin(False)
            rejection_verify(ps, qs, [d], coin)
            out += float(qd * (1 - accept)) * coin.residual
    return out


def _speculative(rows, rng, tally):
    """speculative._rejection_query(n), n = 1..MAX_N: the encoded output distribution of the
    verifier (the claim's left side) against the law of spec.validator.generation.rejection_verify, on
    rational p and q with zeros and ties (p = q and p_i = q_i: the acceptance exactly 1)."""
    enc = {}
    def one(r):
        n = 1 + r % speculative.MAX_N
        if n not in enc:
            enc[n] = Encoded(*speculative._rejection_query(n))
        wp = [rng.randint(0, 4) for _ in range(n)]
        wp[rng.randrange(n)] += 1
        wq = list(wp) if rng.random() < 0.2 else [rng.randint(0, 4) for _ in range(n)]
        wq[rng.randrange(n)] += 1 if sum(wq) == 0 else 0
        p, q = probs(wp), probs(wq)
        left, right = enc[n].run({**{f"p{i}": p[i] for i in range(n)}, **{f"q{i}": q[i] for i in range(n)}, "__n": n})
        tally.row(tied(p), any(a == b for a, b in zip(p, q, strict=True)))
        law = _verifier_law(p, q)
        got = [float(x) for x in left]
        if not np.allclose(got, law, rtol=0, atol=1e-12):
            tally.fail(f"speculative verifier, n = {n}, p = {_fmt(p)}, q = {_fmt(q)}: the encoding's output "
                       f"distribution {_fmt(got)}, spec.validator.generation.rejection_verify's "
                       f"{_fmt(law.tolist())}")
            return
    _drive(one, rows, tally)


def _drive(one, rows: int, tally: Tally):
    """Run one(r) for each row; a row with an undecided comparison is skipped and counted."""
    for r in range(rows):
        try:
            one(r)
        except Undecided:
            tally.skipped += 1
        except FloatBlind:
            tally.blind += 1
        if tally.done:
            return


def _softmax(rows, rng, tally):
    """symbolic.softmax, the one definition every SymPy proof uses, at concrete n and z (n = 1..6,
    integer logits with ties) against spec.numerics.softmax: equal to 1e-12."""
    import sympy as sp

    from proofs import symbolic
    from spec.numerics import softmax
    expr = symbolic.softmax(lambda k: symbolic.z[k])
    at_n = {}  # n -> the definition with n and i bound, as a function of z_1..z_n (evaluated by mpmath)
    for _ in range(rows):
        n = rng.randint(1, 6)
        z = [rng.randint(-4, 4) for _ in range(n)]
        if n not in at_n:
            zs = [symbolic.z[j + 1] for j in range(n)]
            at_n[n] = [sp.lambdify(zs, expr.subs(symbolic.n, n).doit().subs(symbolic.i, i + 1), "mpmath")
                       for i in range(n)]
        ours = [float(f(*z)) for f in at_n[n]]
        spec = softmax(np.array(z, dtype=np.float64))
        tally.rows += 1
        tally.ties += tied(z)
        if max(abs(a - b) for a, b in zip(ours, spec, strict=True)) > 1e-12:
            tally.fail(f"logits {z} (token i is z[i + 1] in SymPy): the distribution {[round(x, 12) for x in ours]} "
                       f"vs spec's {[round(float(x), 12) for x in spec]}")
            return


RUNS = {"softmax": _softmax, "argmax-one-hot": _argmax_one_hot, "first-max": _first_max, "top-k": _top_k,
        "top-p": _top_p, "min-p": _min_p, "typical": _sampler("typical"), "epsilon": _sampler("epsilon"),
        "eta": _sampler("eta"),
        "xtc": _sampler("xtc"), "top-n-sigma": _top_n_sigma, "penalty": _penalty, "commute-chains": _commute_chains,
        "speculative": _speculative}


def tally(rule: str, rows: int = ROWS, seed: int = 0) -> Tally:
    """Run one rule's fidelity check; evaluation errors end it (Tally.error)."""
    t = Tally()
    rng = random.Random(f"{rule}-{seed}")
    try:
        RUNS[rule](rows, rng, t)
    except PremiseFalse as e:
        t.fail(f"a premise is false at the binding its definitions give: `{e}`")
    except (Unsupported, Unbound, ZeroDivisionError) as e:
        t.error = f"the evaluator cannot evaluate the encoding: {e}"
    return t


REFERENCE = {"penalty": "spec's RepetitionPenalty", "speculative": "spec.validator.generation.rejection_verify"}


ROWS_OF = {"softmax": 250}  # the same rows as the keep rules
_CHECKED: dict = {}  # (rule, rows, seed) -> Step: a rule shared by many theorems is evaluated once per run


def shared(ctx, rule: str):
    """check(ctx, rule) once per process, its step copied into every later theorem that uses the rule.
    A test that patches a builder must clear _CHECKED (tests/test_proofs_mutants.py does)."""
    key = (rule, ROWS_OF.get(rule, ROWS), 0)
    if key not in _CHECKED:
        _CHECKED[key] = check(_Sink(), rule, key[1])
    step = _CHECKED[key]
    ctx.steps.append(Step(step.title, step.method, step.status, step.detail, seconds=step.seconds))


class _Sink:
    def step(self, title, method, status, detail="", seconds=0.0):
        return Step(title, method, status, detail, seconds=seconds)


def no_counterpart(reason: str):
    """A theorem whose encoding has nothing in spec/ to be compared with says so in its transcript
    (a `not run` step supports nothing), rather than carrying no fidelity line at all."""
    def run(ctx):
        ctx.step("fidelity: no spec.target counterpart", "fidelity", NOT_RUN, reason)
    return run


def check(ctx, rule: str, rows: int = ROWS, seed: int = 0):
    """Append one step to ctx: the encoding of `rule` agrees with spec.target on `rows` rows (HOLDS),
    or the first row where it does not (MISMATCH), or the evaluator could not run it (INCONCLUSIVE).
    The builders are called now, so a patched builder is what gets checked. The detail counts rows
    with ties and rows with an exact boundary that both sides decided (a parameter exactly on a
    cumulative mass, a probability or a cut; tied maxima for greedy), with float64 exact there."""
    start = time.process_time()
    t = tally(rule, rows, seed)
    seconds = time.process_time() - start
    if t.error:
        status, detail = INCONCLUSIVE, t.error
    elif t.mismatch:
        status, detail = MISMATCH, f"encoding disagrees with {REFERENCE.get(rule, 'spec.target')}: {t.mismatch}"
    else:
        status = HOLDS
        detail = (f"encoding agrees with {REFERENCE.get(rule, 'spec.target')} on {t.rows} rows ({t.ties} with ties, "
                  f"{t.exact} with an exact boundary decided by both)")
        if t.skipped:
            detail += f"; {t.skipped} rows skipped (two numbers closer than {TINY:g} that are not equal)"
        if t.blind:
            detail += (f"; {t.blind} rows skipped with an exact tie float64 cannot see (equal typicality scores of "
                       "different probabilities)")
    return ctx.step(f"fidelity: {rule}", "fidelity", status, detail, seconds)
