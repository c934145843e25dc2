"""Satisfying assignments for lint's questions, found by trying values instead of asking Z3.

A lint question ("can rule A fire while rules B and C pass?") is a conjunction of Boolean
terms over one tool's inputs. On a healthy spec most questions are satisfiable, and Z3
spends milliseconds building a model over strings, sequences and sets where evaluating a
compiled term costs microseconds. So the session (``_session``) first looks among the
assignments it already has, then runs this search, and asks Z3 only when both fail: to
prove a question unsatisfiable, or to find what the search could not.

The search is WalkSAT over values rather than bits: start from the closest known
assignment, pick a term that is false, try a few values for the inputs it reads, keep the
change that makes the most terms true (now and then a random one, to leave local optima).
Values come from the spec itself: its numbers and their neighbours, its strings, strings
built from its prefixes and suffixes, members of its regular expressions, strings of the
lengths it measures, and the values of earlier Z3 models; preferred are those of the term
being fixed (its own numbers and their products, its own strings) and those that relate
inputs it reads (equal to another, a member of a set another holds, added to a set).
An enum input takes only its values, an Int only integers. Whatever the search returns
has been checked term by term with the fast path, whose meaning is the Z3 terms' (tests
hold the two together), so it is a real witness, never a guess.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

import z3

from guardgraph.guardrails._fastpath import Predicates, Unsupported, z3_string
from guardgraph.guardrails._pyregex import charclass, python_regex

__all__ = ["Goal", "Values", "walk"]

Env = dict[str, object]
_NONE = object()  # no value to propose

# Bounds that keep the search cheap next to one Z3 call (about a millisecond).
_PROPOSALS = 6  # values tried per step
_NOISE = 0.15  # chance of a random move among those that fix the chosen term
_PATIENCE = 12  # moves without getting closer before the search gives up
_MAX_STRINGS = 64
_SAMPLES_PER_REGEX = 4
_MAX_EXTRA_ROUNDS = 64  # rounds of a regex repetition beyond its minimum
_LONGEST = 1 << 16  # the longest string made to meet a length bound (issue #10: len(q) <= 300)
_JUMP = 0.3  # chance that a number moves by a power of two instead of to a known value
_RELATED = 0.25  # chance that a value is taken from another input the term reads
_HINTED = 0.4  # chance that a value is built from the literals of the term being fixed


class Goal:
    """One term that must hold: ``test(env) -> bool``, the inputs it reads, and the
    literals it mentions (the values most likely to make it hold)."""

    __slots__ = ("_integers", "_numbers", "literals", "reads", "test")

    def __init__(self, test: Callable[[Env], bool], reads: Iterable[str],
                 literals: Iterable[object] = ()) -> None:
        self.test = test
        self.reads = tuple(sorted(reads))
        self.literals = tuple(literals)
        self._numbers: list[int | Fraction] | None = None
        self._integers: list[int] | None = None

    def integers(self) -> list[int]:
        """``numbers()`` for an integer input: each fraction by its floor and ceiling."""
        if self._integers is None:
            out: dict[int, None] = {}
            for v in self.numbers():
                if isinstance(v, int):
                    out[v] = None
                else:
                    out.update(dict.fromkeys((math.floor(v), math.ceil(v))))
            self._integers = list(out)
        return self._integers

    def numbers(self) -> list[int | Fraction]:
        """The term's numbers, their neighbours, negations, and pairwise products (a
        bound such as ``amount / 409 < 100`` is crossed at 409 * 100)."""
        if self._numbers is None:
            base = [v for v in self.literals
                    if isinstance(v, int | Fraction) and not isinstance(v, bool)]
            out: dict[int | Fraction, None] = {}
            for v in base:
                out.update(dict.fromkeys((v, v + 1, v - 1, -v, -v - 1)))
            for i, a in enumerate(base[:8]):
                for b in base[i:8]:
                    out.update(dict.fromkeys((a * b, a * b + 1, -a * b, -a * b - 1)))
            self._numbers = [int(v) if isinstance(v, Fraction) and v.denominator == 1 else v
                             for v in out]
        return self._numbers

    def strings(self) -> list[str]:
        return [v for v in self.literals if isinstance(v, str)]


class Values:
    """The values worth trying for each input of one tool's questions."""

    def __init__(self, sorts: Mapping[str, z3.SortRef], found: Predicates, seed: int) -> None:
        self._rng = random.Random(seed)
        self.sorts = dict(sorts)
        ints: dict[int, None] = dict.fromkeys((0, 1, -1, 2))
        reals: dict[Fraction, None] = dict.fromkeys(map(Fraction, (0, 1, -1)))
        reals[Fraction(1, 2)] = None
        for n in [*found.ints, *(int(q) for q in found.reals)]:
            ints.update(dict.fromkeys((n, n + 1, n - 1)))
        for q in [*map(Fraction, found.ints), *found.reals]:
            reals.update(dict.fromkeys((q, q + 1, q - 1, q + Fraction(1, 4), q - Fraction(1, 4))))
        self._ints = list(ints)
        self._reals = [int(q) if q.denominator == 1 else q for q in reals]
        self._strings = _strings(found, self._rng)
        if found.measures:
            for n in found.ints:
                if 0 < n < _LONGEST:
                    self._strings += ["a" * n, "a" * (n + 1)]
        self._by_sort: dict[int, list[object]] = {}
        self._by_var: dict[str, list[object]] = {}
        self._shapes: dict[str, tuple[bool, int, int | None]] = {}
        self._kinds: dict[str, str] = {}
        self._fixed: set[str] = set()

    def propose(self, var: str, env: Env, goal: Goal, rng: random.Random) -> object:
        """A value to try for ``var``, given the current ``env`` and the term being
        fixed (``goal``: the other inputs it reads, the literals it mentions)."""
        shape = self._shapes.get(var)
        if shape is None:
            shape = self._shape(var)
        near = goal.reads
        if var in self._fixed:
            return rng.choice(self._by_var[var])
        if rng.random() < _HINTED:
            hinted = self._hinted(var, shape, env, goal, rng)
            if hinted is not _NONE:
                return hinted
        roll = rng.random()
        if shape[0] and roll < _JUMP:
            # Thresholds far from every literal (n > 2 * c, a sum under a limit) are
            # crossed by jumps of every scale.
            old = env[var]
            if isinstance(old, int | Fraction):
                step = 2 ** rng.randrange(24)
                return old + step if rng.random() < 0.5 else old - step
        if roll < _JUMP + _RELATED:
            related = self._related(var, shape, env, near)
            if related:
                return rng.choice(related)
        options = self.of(var)
        return rng.choice(options) if options else env[var]

    def _hinted(self, var: str, shape: tuple[bool, int, int | None], env: Env, goal: Goal,
                rng: random.Random) -> object:
        """A value for ``var`` made from ``goal``'s literals, or _NONE."""
        kind = self._kinds.get(var)
        if kind is None:
            kind = self._kind(var)
        # An Int input (or an Int element) takes only integers: a fraction the fast path
        # would happily compare is not a value of its sort.
        if shape[0]:
            numbers: Sequence[object] = goal.integers() if kind == "int" else goal.numbers()
            return rng.choice(numbers) if numbers else _NONE
        strings = goal.strings()
        if kind == "str":
            if not strings:
                return _NONE
            text = rng.choice(strings)
            roll = rng.random()
            if roll < 0.7:
                return text if roll < 0.55 else text + "a"
            # A prefix or infix literal meeting a length bound (`startswith(q, "p") and
            # len(q) > 300`), or two literals together (`startswith(q, "a")` and
            # `contains(q, "b")`): Z3 finds long strings slowly, the search at once.
            lengths = [n for n in goal.integers() if len(text) < n < _LONGEST]
            if lengths and roll < 0.85:
                return text + "a" * (rng.choice(lengths) - len(text) + rng.randrange(2))
            return text + rng.choice(strings)
        if kind in ("set_str", "set_int", "set_real"):
            pool: Sequence[object] = (strings if kind == "set_str" else goal.integers()
                                      if kind == "set_int" else goal.numbers())
            mine = env[var]
            if not pool or not isinstance(mine, frozenset):
                return _NONE
            item = rng.choice(pool)
            return mine - {item} if item in mine and rng.random() < 0.5 else mine | {item}
        if kind in ("seq_int", "seq_real"):
            numbers = goal.integers() if kind == "seq_int" else goal.numbers()
            return (rng.choice(numbers),) if numbers else _NONE
        return _NONE

    def _kind(self, var: str) -> str:
        sort = self.sorts[var]
        kind = _number_kind(sort) or "other"
        if isinstance(sort, z3.SeqSortRef) and sort.is_string():
            kind = "str"
        elif isinstance(sort, z3.ArraySortRef):
            d = sort.domain()
            if isinstance(d, z3.SeqSortRef) and d.is_string():
                kind = "set_str"
            elif _number_kind(d):
                kind = f"set_{_number_kind(d)}"
        elif isinstance(sort, z3.SeqSortRef) and _number_kind(sort.basis()):
            kind = f"seq_{_number_kind(sort.basis())}"
        self._kinds[var] = kind
        return kind

    def _shape(self, var: str) -> tuple[bool, int, int | None]:
        """(numeric, sort id, element sort id of a set or None), cached per input."""
        sort = self.sorts[var]
        numeric = sort.kind() in (z3.Z3_INT_SORT, z3.Z3_REAL_SORT)
        element = sort.domain().get_id() if isinstance(sort, z3.ArraySortRef) else None
        shape = (numeric, sort.get_id(), element)
        self._shapes[var] = shape
        return shape

    def _related(self, var: str, shape: tuple[bool, int, int | None], env: Env,
                 near: Sequence[str]) -> list[object]:
        """Values that relate ``var`` to the other inputs a term reads: equal to one,
        a member of a set one holds, a set with one's value added or removed."""
        out: list[object] = []
        _, sid, element = shape
        for other in near:
            if other == var:
                continue
            oshape = self._shapes.get(other) or self._shape(other)
            value = env[other]
            if oshape[1] == sid:
                out.append(value)
            elif oshape[2] == sid:
                if isinstance(value, frozenset):
                    out.extend(sorted(value, key=repr))  # not hash order: reproducible
            elif element is not None and oshape[1] == element:
                mine = env[var]
                if isinstance(mine, frozenset):
                    out += [mine | {value}, mine - {value}]
        return out

    def of(self, var: str) -> list[object]:
        """The values to try for ``var`` (its sort's, plus any learnt for it)."""
        out = self._by_var.get(var)
        if out is None:
            out = list(self._sort_values(self.sorts[var]))
            self._by_var[var] = out
        return out

    def simple(self, var: str) -> list[object]:
        """The values to try first when simplifying a value of ``var``: its usual values,
        then, for a number, every power of two up to 2**40 and its negation (so a bound
        far from every literal still shrinks to a value that does not depend on the
        model it came from)."""
        values = self.of(var)
        shape = self._shapes.get(var) or self._shape(var)
        if not shape[0]:
            return values
        return [*values, *(s * 2**k for k in range(41) for s in (1, -1))]

    def only(self, var: str, values: list[object]) -> None:
        """``var`` takes one of ``values`` and nothing else (an enum's values)."""
        self._by_var[var] = values
        self._fixed.add(var)

    def prefer(self, var: str, value: object) -> None:
        """Try ``value`` first for ``var`` (and keep the others)."""
        self._by_var[var] = [value, *(v for v in self.of(var) if v != value)]

    def learn(self, var: str, value: object) -> None:
        """Remember a value a Z3 model gave ``var``: the next search may need it again."""
        values = self.of(var)
        if value not in values and var not in self._fixed:
            values.append(value)

    def first(self, var: str) -> object:
        return self.of(var)[0]

    def _sort_values(self, sort: z3.SortRef) -> list[object]:
        key = sort.get_id()
        cached = self._by_sort.get(key)
        if cached is not None:
            return cached
        kind = sort.kind()
        rng = self._rng
        out: list[object]
        if kind == z3.Z3_BOOL_SORT:
            out = [False, True]
        elif kind == z3.Z3_INT_SORT:
            out = list(self._ints)
        elif kind == z3.Z3_REAL_SORT:
            out = list(self._reals)
        elif kind == z3.Z3_SEQ_SORT and isinstance(sort, z3.SeqSortRef) and sort.is_string():
            out = list(self._strings)
        elif kind == z3.Z3_SEQ_SORT:
            element = self._sort_values(sort.basis())
            out = [(), *((e,) for e in element[:6])]
            if element:
                out += [tuple(rng.choice(element) for _ in range(2)) for _ in range(6)]
        elif kind == z3.Z3_ARRAY_SORT and isinstance(sort, z3.ArraySortRef):
            element = self._sort_values(sort.domain())
            out = [frozenset(), *(frozenset((e,)) for e in element[:_MAX_STRINGS])]
            out += [frozenset(rng.sample(element, min(2, len(element)))) for _ in range(6)]
        elif kind == z3.Z3_DATATYPE_SORT and isinstance(sort, z3.DatatypeSortRef):
            fields = [(sort.accessor(0, i).name(), self._sort_values(sort.accessor(0, i).range()))
                      for i in range(sort.constructor(0).arity())]
            out = [{n: vals[0] for n, vals in fields if vals}]
            if all(vals for _, vals in fields):
                out += [{n: rng.choice(vals) for n, vals in fields} for _ in range(11)]
            else:
                out = []
        elif kind == z3.Z3_UNINTERPRETED_SORT:
            out = [None]  # `json`: opaque, one value stands for all (see _z3sorts)
        else:
            out = []
        # Unique, first seen first (a model's value may repeat a literal).
        uniq: list[object] = []
        for v in out:
            if v not in uniq:
                uniq.append(v)
        self._by_sort[key] = uniq
        return uniq


def _number_kind(sort: z3.SortRef) -> str | None:
    kind = sort.kind()
    return "int" if kind == z3.Z3_INT_SORT else "real" if kind == z3.Z3_REAL_SORT else None


def walk(goals: Sequence[Goal], start: Env, values: Values, rng: random.Random,
         steps: int) -> Env | None:
    """An assignment (a changed copy of ``start``) where every goal holds, or None when
    ``steps`` moves did not find one (or the last ``_PATIENCE`` brought none closer)."""
    env = dict(start)
    by_var: dict[str, list[int]] = {}
    for i, g in enumerate(goals):
        for var in g.reads:
            by_var.setdefault(var, []).append(i)
    holds = [_safe(g, env) for g in goals]
    fewest, since = len(goals) + 1, 0
    for _ in range(steps):
        bad = [i for i, ok in enumerate(holds) if not ok]
        if not bad:
            return env
        if len(bad) < fewest:
            fewest, since = len(bad), 0
        else:
            since += 1
            if since > _PATIENCE:
                return None
        t = rng.choice(bad)
        target = goals[t]
        if not target.reads:
            return None  # a false term that reads nothing stays false
        best: list[tuple[str, object, list[tuple[int, bool]]]] = []
        fixing: list[tuple[str, object, list[tuple[int, bool]]]] = []
        best_gain = -len(goals) - 1
        for _ in range(_PROPOSALS):
            var = rng.choice(target.reads)
            value = values.propose(var, env, target, rng)
            old = env[var]
            if value == old:
                continue
            env[var] = value
            changes = [(j, _safe(goals[j], env)) for j in by_var[var]]
            env[var] = old
            gain = 0
            fixes = False
            for j, new in changes:
                gain += new - holds[j]
                if j == t and new:
                    fixes = True
            move = (var, value, changes)
            if fixes:
                fixing.append(move)
            if gain > best_gain:
                best, best_gain = [move], gain
            elif gain == best_gain:
                best.append(move)
        if not best:
            continue
        var, value, changes = rng.choice(fixing if fixing and rng.random() < _NOISE else best)
        env[var] = value
        for j, new in changes:
            holds[j] = new
    return env if all(holds) else None


def _safe(goal: Goal, env: Env) -> bool:
    try:
        return goal.test(env)
    except (KeyError, TypeError):  # an input of a sort the values cannot give
        return False


# ------------------------------------------------------------------ strings


def _strings(found: Predicates, rng: random.Random) -> list[str]:
    out: dict[str, None] = dict.fromkeys(("", "a", "zq"))  # zq: equal to no literal
    out.update(dict.fromkeys(found.strings))
    affixes = list(found.affixes)
    for a in affixes:
        out.update(dict.fromkeys((a + "a", "a" + a, "a" + a + "a")))
    for r in found.regexes:
        out.update(dict.fromkeys(_cached_samples(r, tuple(affixes))))
    return list(out)[:_MAX_STRINGS]


_SAMPLES: dict[tuple[str, tuple[str, ...]], list[str]] = {}


def _cached_samples(r: z3.ExprRef, hints: tuple[str, ...]) -> list[str]:
    """``regex_samples`` once per regex and hints in a process (the tools of a large spec
    repeat their patterns), drawn with a seed of their own so every tool gets the same."""
    key = (r.sexpr(), hints)
    found = _SAMPLES.get(key)
    if found is None:
        if len(_SAMPLES) > 4096:
            _SAMPLES.clear()
        seed = zlib.crc32(repr(key).encode())
        found = _SAMPLES[key] = regex_samples(r, hints, random.Random(seed))
    return found


def regex_samples(r: z3.ExprRef, hints: Sequence[str], rng: random.Random) -> list[str]:
    """A few members of the Z3 regex ``r``: some random, some starting with a hint (a
    prefix the spec also asks for). Each is checked against the regex itself."""
    try:
        check = re.compile(python_regex(r), re.DOTALL)
    except (Unsupported, re.error):
        return []
    out: list[str] = []
    for hint in ["", "", *hints][: _SAMPLES_PER_REGEX + len(hints)]:
        text = _sample(r, hint, rng)
        if text is not None and check.fullmatch(text) and text not in out:
            out.append(text)
    return out


class _Pick:
    """A regex walk that builds one member, following ``hint`` where the regex allows."""

    def __init__(self, hint: str, rng: random.Random) -> None:
        self.hint = hint
        self.rng = rng
        self.out: list[str] = []

    def length(self) -> int:
        return sum(map(len, self.out))

    def want(self) -> str | None:
        pos = self.length()
        return self.hint[pos] if pos < len(self.hint) else None

    def char(self, allowed: Callable[[str], bool], default: str) -> bool:
        wanted = self.want()
        if wanted is not None and allowed(wanted):
            self.out.append(wanted)
            return True
        if allowed(default):
            self.out.append(default)
            return True
        return False


def _sample(r: z3.ExprRef, hint: str, rng: random.Random) -> str | None:
    pick = _Pick(hint, rng)
    try:
        ok = _emit(r, pick, 0)
    except (z3.Z3Exception, RecursionError):
        return None
    return "".join(pick.out) if ok else None


def _emit(r: z3.ExprRef, pick: _Pick, depth: int) -> bool:
    if depth > 40:
        return False
    k = r.decl().kind()
    if k == z3.Z3_OP_SEQ_TO_RE:
        s = r.arg(0)
        if not z3.is_string_value(s):
            return False
        pick.out.append(z3_string(s))
        return True
    if k == z3.Z3_OP_RE_CONCAT:
        return all(_emit(c, pick, depth + 1) for c in r.children())
    if k == z3.Z3_OP_RE_UNION:
        kids = r.children()
        wanted = pick.want()
        order = sorted(kids, key=lambda c: 0 if wanted and _may_start(c, wanted) else 1)
        first = order[0] if wanted and _may_start(order[0], wanted) else pick.rng.choice(kids)
        return _emit(first, pick, depth + 1)
    if k in (z3.Z3_OP_RE_STAR, z3.Z3_OP_RE_PLUS, z3.Z3_OP_RE_OPTION, z3.Z3_OP_RE_LOOP):
        lo, hi = {z3.Z3_OP_RE_STAR: (0, None), z3.Z3_OP_RE_PLUS: (1, None),
                  z3.Z3_OP_RE_OPTION: (0, 1)}.get(k, (0, None))
        if k == z3.Z3_OP_RE_LOOP:
            params = r.decl().params()
            lo = int(params[0]) if params else 0
            hi = int(params[1]) if len(params) > 1 else None
        body = r.arg(0)
        start = len(pick.out)
        times = 0
        while times < lo + _MAX_EXTRA_ROUNDS and (hi is None or times < hi):
            if times >= lo:
                # Past the minimum: go on while the hint wants a character the body can
                # start with, or (no hint left) now and then, for variety.
                wanted = pick.want()
                if wanted is not None and not _may_start(body, wanted):
                    break
                if wanted is None and (times > lo or pick.rng.random() < 0.5):
                    break
            before = pick.length()
            if not _emit(body, pick, depth + 1):
                del pick.out[start:]
                return False
            times += 1
            if times >= lo and pick.length() == before:
                break  # the body matched the empty string: more rounds add nothing
        return True
    if k == z3.Z3_OP_RE_FULL_SET:
        return True
    if k == z3.Z3_OP_RE_EMPTY_SET:
        return False
    test = _char_test(r)
    if test is None:
        return False
    return pick.char(test, _first_char(r) or "a")


def _may_start(r: z3.ExprRef, ch: str) -> bool:
    """Whether a member of ``r`` may begin with ``ch`` (an over-approximation)."""
    k = r.decl().kind()
    if k == z3.Z3_OP_SEQ_TO_RE:
        s = r.arg(0)
        return z3.is_string_value(s) and z3_string(s)[:1] in ("", ch)
    if k == z3.Z3_OP_RE_CONCAT:
        return _may_start(r.arg(0), ch)
    if k == z3.Z3_OP_RE_UNION:
        return any(_may_start(c, ch) for c in r.children())
    if k in (z3.Z3_OP_RE_STAR, z3.Z3_OP_RE_PLUS, z3.Z3_OP_RE_OPTION, z3.Z3_OP_RE_LOOP):
        return _may_start(r.arg(0), ch)
    test = _char_test(r)
    return True if test is None else test(ch)


def _char_test(r: z3.ExprRef) -> Callable[[str], bool] | None:
    cls = charclass(r)
    if cls is None:
        return None
    rx = re.compile(cls, re.DOTALL)
    return lambda ch: rx.fullmatch(ch) is not None


def _first_char(r: z3.ExprRef) -> str | None:
    k = r.decl().kind()
    if k == z3.Z3_OP_RE_RANGE and z3.is_string_value(r.arg(0)):
        lo = z3_string(r.arg(0))
        return lo if len(lo) == 1 else None
    if k in (z3.Z3_OP_RE_UNION, z3.Z3_OP_RE_DIFF, z3.Z3_OP_RE_INTERSECT):
        for c in r.children():
            found = _first_char(c)
            if found is not None:
                return found
    return None
