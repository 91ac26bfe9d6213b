"""No product function too tangled or too long to read in one sitting: radon's cyclomatic
complexity at most 20 (rank C or better) and at most 60 lines, closures and methods included.

The product is what ships or runs the product: the layer, the handlers, the operator CLI and the
local emulation (not tests/ or benchmarks/). ruff's mccabe check (at most 15) counts branches
only; radon also counts boolean operators and comprehensions, which is what makes a condition
hard to read. Lines are counted from the AST: from ``def`` to the last line of the body.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from radon.complexity import add_inner_blocks, cc_rank, cc_visit
from radon.visitors import Function

from asg_refresh_local.samples import PROJECT_ROOT

PRODUCT = ("layers/shared", "functions", "cli", "local")
#: The top of radon's rank C.
MAX_COMPLEXITY = 20
MAX_LINES = 60


def shape_offences(source: str, path: str) -> list[str]:
    """``path:function, complexity N (rank), L lines`` for each function of ``source`` over a limit."""
    tree = ast.parse(source)
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    lines = {node.lineno: (node.end_lineno or node.lineno) - node.lineno + 1 for node in functions}
    # radon names methods Class.method and closures outer.inner; the AST knows every def.
    blocks = {b.lineno: b for b in add_inner_blocks(cc_visit(source)) if isinstance(b, Function)}
    found = []
    for node in sorted(functions, key=lambda n: n.lineno):
        block = blocks.get(node.lineno)
        complexity = block.complexity if block else 1
        length = lines[node.lineno]
        if complexity > MAX_COMPLEXITY or length > MAX_LINES:
            name = block.fullname if block else node.name
            found.append(f"{path}:{name}, complexity {complexity} ({cc_rank(complexity)}), {length} lines")
    return found


def product_files() -> list[Path]:
    return sorted(
        path
        for root in PRODUCT
        for path in (PROJECT_ROOT / root).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def test_the_product_has_files_to_check() -> None:
    # Guards the gate itself: a wrong root would make the next test pass on nothing.
    files = {path.relative_to(PROJECT_ROOT).parts[0] for path in product_files()}
    assert files == {"layers", "functions", "cli", "local"}


def test_no_product_function_ranks_worse_than_c_or_runs_past_60_lines() -> None:
    offences = [
        offence
        for path in product_files()
        for offence in shape_offences(path.read_text(), str(path.relative_to(PROJECT_ROOT)))
    ]
    assert offences == [], "split these functions:\n" + "\n".join(offences)


# -- the gate can fail ------------------------------------------------------------------------------


def _branchy(name: str, branches: int, indent: str = "") -> str:
    """A function of complexity ``branches + 1`` (one ``if`` per branch) and ``2 * branches + 2`` lines."""
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(branches))
    return textwrap.indent(f"def {name}(x):\n{body}    return -1\n", indent)


def test_a_function_of_complexity_21_is_reported_with_its_rank_and_length() -> None:
    source = _branchy("tangled", 20)
    assert shape_offences(source, "pkg/mod.py") == ["pkg/mod.py:tangled, complexity 21 (D), 42 lines"]


def test_boolean_operators_count_towards_complexity() -> None:
    condition = " and ".join(f"x{i}" for i in range(21))
    source = f"def dense(*x):\n    return {condition}\n"
    assert shape_offences(source, "m.py") == ["m.py:dense, complexity 21 (D), 2 lines"]


def test_a_function_of_complexity_20_passes() -> None:
    assert shape_offences(_branchy("fine", 19), "m.py") == []


def test_a_function_past_60_lines_is_reported_however_simple() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(59))
    source = f"def long(x):\n{body}    return x\n"
    assert shape_offences(source, "m.py") == ["m.py:long, complexity 1 (A), 61 lines"]


def test_a_function_of_60_lines_passes() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(58))
    assert shape_offences(f"def long(x):\n{body}    return x\n", "m.py") == []


def test_methods_and_closures_are_reported_by_their_qualified_names() -> None:
    source = (
        "class Thing:\n"
        + _branchy("method", 21, indent="    ")
        + "\n\ndef outer():\n"
        + _branchy("inner", 22, indent="    ")
        + "    return inner\n"
    )
    assert shape_offences(source, "m.py") == [
        "m.py:Thing.method, complexity 22 (D), 44 lines",
        "m.py:outer.inner, complexity 23 (D), 46 lines",
    ]


def test_the_limit_is_the_top_of_rank_c() -> None:
    assert (cc_rank(MAX_COMPLEXITY), cc_rank(MAX_COMPLEXITY + 1)) == ("C", "D")
