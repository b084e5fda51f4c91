"""Every way strategy code can come to hold a value passes the same check.

The value here is the real `type`, which makes classes outside the class statement; the
red team reached it with `typing.get_origin(typing.Type)`, also called from C through map
(a library function handed to C code is a checked callback now). Each later check must
still hold on its own, so the other roads start from a `type` the host hides in a list it
passes (as if some C code had put it there): an item, an iteration step, unpacking, C-level
unpacking into a list and then a callback, a callee, an argument, a class's bases.
"""

from __future__ import annotations

import importlib

import pytest

from sandbox.worker.compiler import load_strategy
from sandbox.worker.guards import Guards, SandboxViolation
from sandbox.worker.policy import DEFAULT_PRELOAD, ImportPolicy

for _name in DEFAULT_PRELOAD:
    importlib.import_module(_name)

GET_TYPE = "itertools.chain(prices['hidden'])"  # yields the real `type`, from C
ROADS = {
    "call result": ("return typing.get_origin(typing.Type)", "what typing.get_origin returned"),
    "callback from C": (
        "return list(map(typing.get_origin, [typing.Type]))",
        "what typing.get_origin returned",
    ),
    "for loop": (f"for t in {GET_TYPE}:\n    return t", "an item of itertools.chain"),
    "comprehension": (f"return [t for t in {GET_TYPE}]", "an item of itertools.chain"),
    "unpacking": (f"t, = {GET_TYPE}\nreturn t", "an item of itertools.chain"),
    "next()": (f"return next({GET_TYPE})", "what next returned"),
    "item of a list built in C": (f"return [*{GET_TYPE}][0]", "list[0]"),
    "callee in a callback": (
        "import functools\n"
        f"return functools.reduce(lambda a, t: t('X', (), {{}}), [*{GET_TYPE}], 0)",
        "calling type",
    ),
    "argument": (f"import functools\nreturn functools.partial(*{GET_TYPE})", "passing type"),
    "argument in a callback": (
        "import functools\nbox = []\n"
        f"functools.reduce(lambda a, t: box.append(t), [*{GET_TYPE}], 0)",
        "passing type",
    ),
    "class bases": (f"class X(*{GET_TYPE}):\n    pass\nreturn X", "would be a metaclass"),
    "dict built in C": (
        f"return dict(zip(['k'], [*{GET_TYPE}])).get('k')",
        "an item of list",
    ),
    "sorted": (f"return sorted({GET_TYPE}, key=id)", "an item of itertools.chain"),
    "min": (f"return min({GET_TYPE}, key=id)", "an item of itertools.chain"),
    "itertools.starmap with operator.call": (
        "import itertools, operator\n"
        f"pairs = itertools.zip_longest([*{GET_TYPE}], ['X'], [()], [{{}}])\n"
        "return list(itertools.starmap(operator.call, pairs))",
        "operator.call",
    ),
}


def source(body: str) -> str:
    indented = "\n".join("        " + line for line in body.splitlines())
    return (
        "import itertools, typing\n"
        "class S:\n"
        "    def __init__(self, params=None):\n"
        "        pass\n"
        "    def generate_signal(self, team, bars, prices):\n"
        f"{indented}\n"
    )


@pytest.mark.parametrize("road", sorted(ROADS))
def test_the_real_type_is_refused_on_every_road(road: str) -> None:
    body, where = ROADS[road]
    strategy = load_strategy({"strategy.py": source(body)}, "S", {}, ImportPolicy())
    with pytest.raises(SandboxViolation, match=r"metaclass|unchecked") as refused:
        strategy.call({}, {}, {"hidden": [type]})
    assert where in str(refused.value)


def test_plain_code_keeps_working_through_the_checks() -> None:
    body = (
        "import functools, collections, numpy as np, pandas as pd\n"
        "total = functools.reduce(lambda a, b: a + b, [1, 2, 3], 0)\n"
        "counts = collections.Counter('abca')\n"
        "frame = pd.DataFrame({'a': [1.0, 2.0, 4.0]})\n"
        "mean = float(np.mean(frame['a'].to_numpy()))\n"
        "pairs = sorted(dict(zip('ab', [2, 1])).items(), key=lambda kv: kv[1])\n"
        "class Point:\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "class Point3(Point):\n"
        "    def __init__(self, x, z):\n"
        "        super().__init__(x)\n"
        "        self.z = z\n"
        "p = Point3(1, 2)\n"
        "return [total, counts['a'], mean, pairs, p.x + p.z, type(p) is Point3]"
    )
    strategy = load_strategy({"strategy.py": source(body)}, "S", {}, ImportPolicy())
    assert strategy.call({}, {}, {}).output == [
        6,
        2,
        pytest.approx(7 / 3),
        [("b", 1), ("a", 2)],
        3,
        True,
    ]


def test_a_library_registry_reaches_the_strategy_as_a_copy() -> None:
    import copy

    guards = Guards(ImportPolicy())
    table = guards.getattr(copy, "dispatch_table")
    assert table == copy.dispatch_table
    assert table is not copy.dispatch_table
    strategy = load_strategy(
        {"strategy.py": source("from copy import dispatch_table\nreturn dispatch_table")},
        "S",
        {},
        ImportPolicy(),
    )
    assert strategy.call({}, {}, {}).output is not copy.dispatch_table


def test_library_functions_handed_to_c_code_keep_working_as_checked_callbacks() -> None:
    """What the second red team's fixes wrap or refuse must not touch honest code: decorators
    on the strategy's own classes, library functions given to map/reduce/agg (named as
    before), enums without a module name, numpy's functions on pandas' fast path."""
    body = (
        "import dataclasses, enum, functools, operator, statistics\n"
        "import numpy as np, pandas as pd\n"
        "@functools.total_ordering\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Level:\n"
        "    price: float\n"
        "    def __lt__(self, other):\n"
        "        return self.price < other.price\n"
        "Side = enum.Enum('Side', ['BUY', 'SELL'])\n"
        "frame = pd.DataFrame({'k': [1, 1, 2], 'a': [1.0, 3.0, 5.0]})\n"
        "named = frame.groupby('k')['a'].agg([statistics.median, np.sum, 'max'])\n"
        "return [\n"
        "    functools.reduce(operator.add, [1, 2, 3]),\n"
        "    list(map(abs, [-1, 2])),\n"
        "    list(map(statistics.mean, [[1, 2], [3, 5]])),\n"
        "    Level(2.0) > Level(1.0),\n"
        "    Side.SELL.value,\n"
        "    list(named.columns),\n"
        "    named['median'].tolist(),\n"
        "    named['sum'].tolist(),\n"
        "]"
    )
    strategy = load_strategy({"strategy.py": source(body)}, "S", {}, ImportPolicy())
    assert strategy.call({}, {}, {}).output == [
        6,
        [1, 2],
        [1.5, 4],
        True,
        2,
        ["median", "sum", "max"],
        [2.0, 5.0],
        [4.0, 5.0],
    ]
