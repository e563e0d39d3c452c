"""Mutation testing of the money, routing-decision and ranking modules: how many small faults the unit tests catch.

    make mutation                     # every module below, 14 mutants each (about 14 minutes on 2 cores)
    .venv/bin/python bench/mutation.py --per-module 40 --module src/mixcore/costs/pricing.py

A mutant is one small change to the code (a comparison, an arithmetic or boolean operator, a number, a flag, an
`+=`) made on the syntax tree. It is run against the unit tests that execute its line (a line-level coverage map
from one coverage run with test-function contexts), stopping at the first failure: a failing or crashing test
kills it, all passing lets it survive. Mutants are sampled per module with a fixed seed, so runs compare. A
mutant that only changes a message string, and one listed in bench/mutation_equivalents.json (no behaviour can
tell it from the original, with the reason), is shown but not counted in the score. The figures are measured,
never asserted: `make test` does not run this.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ["src/mixcore/costs/pricing.py", "src/mixcore/costs/limits.py", "src/mixcore/costs/records.py",
           "src/mixcore/costs/report.py", "src/mixcore/costs/firehose.py", "src/mixcore/costs/sink.py",
           "src/mixcore/mixes/chain.py", "src/mixcore/mixes/index.py", "src/mixcore/mixes/parameters.py",
           "src/mixcore/leaderboards/sanity.py", "src/mixcore/catalog/prices.py"]
EQUIVALENTS = REPO / "bench" / "mutation_equivalents.json"
TESTS = "tests/unit"
SWAP_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
SWAP_BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
               ast.Mod: ast.Mult, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
          ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
          ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.BitOr: "|", ast.BitAnd: "&", ast.And: "and",
          ast.Or: "or"}


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    index: int  # which mutable node of the module, in walk order
    kind: str  # compare | binary | augmented | boolean | not | number | flag | string
    description: str

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"


def mutable_nodes(tree: ast.Module) -> list[tuple[ast.AST, str, str]]:
    """Every node a mutant can change, with its kind and what the change is, in a stable order."""
    found: list[tuple[ast.AST, str, str]] = []
    # Annotations are never evaluated (`from __future__ import annotations`): changing one changes nothing.
    annotations = {id(inner) for n in ast.walk(tree)
                   for part in (getattr(n, "annotation", None), getattr(n, "returns", None)) if part is not None
                   for inner in ast.walk(part)}
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if id(node) in annotations:
            continue
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAP_COMPARE:
            op = type(node.ops[0])
            found.append((node, "compare", f"{SYMBOL[op]} → {SYMBOL[SWAP_COMPARE[op]]}"))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAP_BINARY:
            op = type(node.op)
            found.append((node, "binary", f"{SYMBOL[op]} → {SYMBOL[SWAP_BINARY[op]]}"))
        elif isinstance(node, ast.AugAssign) and type(node.op) in (ast.Add, ast.Sub):
            op = type(node.op)
            found.append((node, "augmented", f"{SYMBOL[op]}= → {SYMBOL[SWAP_BINARY[op]]}="))
        elif isinstance(node, ast.BoolOp):
            found.append((node, "boolean", "and → or" if isinstance(node.op, ast.And) else "or → and"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append((node, "not", "not x → x"))
        elif isinstance(node, ast.Constant) and id(node) not in docstrings:
            value = node.value
            if isinstance(value, bool):
                found.append((node, "flag", f"{value} → {not value}"))
            elif isinstance(value, int | float):
                found.append((node, "number", f"{value!r} → {mutated_number(value)!r}"))
            elif isinstance(value, str) and value:
                found.append((node, "string", f"{value[:20]!r} → 'XX'"))
    return found


def mutated_number(value: int | float) -> int | float:
    if value == 0:
        return 1
    return value + 1 if isinstance(value, int) else value * 2


def apply(source: str, index: int) -> str:
    """The module's source with its `index`-th mutable node changed."""
    tree = ast.parse(source)
    node = mutable_nodes(tree)[index][0]
    if isinstance(node, ast.Compare):
        node.ops[0] = SWAP_COMPARE[type(node.ops[0])]()
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        node.op = SWAP_BINARY[type(node.op)]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        replace(tree, node, node.operand)
    elif isinstance(node, ast.Constant):
        value = node.value
        node.value = (not value) if isinstance(value, bool) else "XX" if isinstance(value, str) \
            else mutated_number(value)
    return ast.unparse(tree)


def replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new


def coverage_map(python: str) -> dict[str, dict[int, set[str]]]:
    """module path → line → the unit tests (pytest node ids, without parameters) that execute it."""
    data_file = REPO / ".bench" / "mutation.coverage"
    data_file.parent.mkdir(exist_ok=True)
    config = REPO / ".bench" / "mutation.coveragerc"
    config.write_text("[run]\ndynamic_context = test_function\nsource = src/mixcore\n")
    print("Mapping which unit tests execute which lines (one coverage run)...", file=sys.stderr, flush=True)
    subprocess.run([python, "-m", "coverage", "run", f"--rcfile={config}", f"--data-file={data_file}", "-m",
                    "pytest", "-q", "-p", "no:cacheprovider", "-x", TESTS], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    from coverage import CoverageData

    data = CoverageData(basename=str(data_file))
    data.read()
    found: dict[str, dict[int, set[str]]] = {}
    for path in data.measured_files():
        relative = str(Path(path).resolve().relative_to(REPO)) if Path(path).is_absolute() else path
        if relative not in MODULES:
            continue
        lines: dict[int, set[str]] = defaultdict(set)
        imported: list[int] = []
        for line, contexts in data.contexts_by_lineno(path).items():
            lines[line] |= {node_id(c) for c in contexts if c}
            if not lines[line]:
                imported.append(line)
        # A line run only at import (a module constant) is used by every test that runs the module's code.
        users = set().union(*lines.values()) if lines else set()
        for line in imported:
            lines[line] = set(users)
        found[relative] = lines
    return found


def node_id(context: str) -> str:
    """'tests.unit.costs.test_pricing.test_x' (coverage's test_function context) →
    'tests/unit/costs/test_pricing.py::test_x'."""
    parts = context.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (REPO / path).exists():
            return f"{path}::{'::'.join(parts[cut:])}"
    return context


def lines_of(node: ast.AST) -> range:
    start = getattr(node, "lineno", 0)
    return range(start, (getattr(node, "end_lineno", None) or start) + 1)


def sample(module: str, per_module: int, seed: int) -> list[tuple[Mutant, ast.AST]]:
    tree = ast.parse((REPO / module).read_text())
    nodes = mutable_nodes(tree)
    mutants = [(Mutant(module, getattr(node, "lineno", 0), i, kind, description), node)
               for i, (node, kind, description) in enumerate(nodes)]
    random.Random(f"{seed}:{module}").shuffle(mutants)
    return sorted(mutants[:per_module], key=lambda m: (m[0].line, m[0].index))


@dataclass
class Worker:
    root: Path
    python: str

    @classmethod
    def make(cls, python: str, number: int) -> Worker:
        root = Path(tempfile.mkdtemp(prefix=f"mixcore-mutation-{number}-"))
        for part in ("src", "tests", "pyproject.toml", "template.yaml", "functions", "events"):
            source = REPO / part
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / part)
        return cls(root, python)

    def run(self, mutant: Mutant, tests: list[str], timeout: float) -> str:
        """killed | survived | timeout (counted as killed: the mutant made a test hang)."""
        target = self.root / mutant.module
        original = target.read_text()
        target.write_text(apply(original, mutant.index))
        try:
            result = subprocess.run([self.python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                     "-p", "no:randomly", "--timeout", str(int(timeout)), *tests],
                                    cwd=self.root, capture_output=True, timeout=timeout * 3,
                                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
                                         "PYTHONPATH": str(self.root / "src")})
            return "survived" if result.returncode == 0 else "killed"
        except subprocess.TimeoutExpired:
            return "timeout"
        finally:
            target.write_text(original)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=14)
    parser.add_argument("--module", action="append", help="only these modules (paths from the repository)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=str(REPO / "bench" / "mutation-results.md"))
    args = parser.parse_args()
    modules = args.module or MODULES
    python = sys.executable
    started = time.monotonic()
    covered = coverage_map(python)
    equivalents = {(e["module"], e["line"], e["mutation"]): e["why"] for e in json.loads(EQUIVALENTS.read_text())}
    plan: list[tuple[Mutant, list[str]]] = []
    for module in modules:
        for mutant, node in sample(module, args.per_module, args.seed):
            tests = sorted({t for line in lines_of(node) for t in covered.get(module, {}).get(line, set())})
            plan.append((mutant, tests))
    print(f"{len(plan)} mutants in {len(modules)} modules; {args.workers} workers...", file=sys.stderr, flush=True)
    workers = [Worker.make(python, i) for i in range(args.workers)]
    free: queue.Queue[Worker] = queue.Queue()
    for worker in workers:
        free.put(worker)
    outcomes: dict[Mutant, str] = {}
    try:
        def run_one(item: tuple[Mutant, list[str]]) -> None:
            mutant, tests = item
            worker = free.get()  # one mutant at a time in each copy of the repository
            try:
                outcome = worker.run(mutant, tests, 60) if tests else "not run by any test"
            finally:
                free.put(worker)
            outcomes[mutant] = outcome
            print(f"  [{len(outcomes)}/{len(plan)}] {mutant.where} {mutant.description}: {outcome}",
                  file=sys.stderr, flush=True)

        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            list(pool.map(run_one, plan))
    finally:
        for worker in workers:
            shutil.rmtree(worker.root, ignore_errors=True)
    report = summarise(modules, outcomes, equivalents, time.monotonic() - started, args)
    Path(args.out).write_text(report)
    print(report)
    return 0


def summarise(modules: list[str], outcomes: dict[Mutant, str], equivalents: dict[tuple[str, int, str], str],
              seconds: float, args: argparse.Namespace) -> str:
    rows, survivors = [], []
    total_counted = total_killed = 0
    for module in modules:
        mine = {m: o for m, o in outcomes.items() if m.module == module}
        counted = {m: o for m, o in mine.items()
                   if m.kind != "string" and (m.module, m.line, m.description) not in equivalents}
        killed = sum(1 for o in counted.values() if o in ("killed", "timeout"))
        total_counted += len(counted)
        total_killed += killed
        score = f"{100 * killed / len(counted):.0f}%" if counted else "-"
        rows.append(f"| {module.removeprefix('src/mixcore/')} | {score} | {killed} / {len(counted)} | "
                    f"{sum(1 for m in mine if m.kind == 'string')} | "
                    f"{sum(1 for m in mine if (m.module, m.line, m.description) in equivalents)} |")
        survivors += [f"- `{m.where}` {m.kind}: {m.description} ({o})" for m, o in sorted(counted.items(),
                      key=lambda kv: kv[0].line) if o not in ("killed", "timeout")]
    total = f"{100 * total_killed / total_counted:.0f}%" if total_counted else "-"
    return "\n".join([
        f"Mutation score of the unit tests: {args.per_module} mutants sampled per module (seed {args.seed}), "
        f"each run against the tests that execute its line; {seconds / 60:.1f} minutes on {args.workers} workers.",
        "", "| module | score | killed / counted | string-only (not counted) | equivalent (not counted) |",
        "|---|---|---|---|---|", *rows, f"| **total** | **{total}** | {total_killed} / {total_counted} | | |", "",
        "Survivors (file:line, the change):", *(survivors or ["- none"]), ""])


if __name__ == "__main__":
    sys.exit(main())
