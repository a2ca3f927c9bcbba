"""Counts code lines per module, like tinygrad's sz.py: docstrings, comments, blanks are free.

`make test` runs it quietly: one line, and only when the core is over its soft budget (a
warning, not a failure). `python scripts/loc.py --all` prints the per-module table.
"""

import ast
import io
import pathlib
import sys
import tokenize

BUDGET = 4000
CORE = ("ops", "layers", "models", "losses", "optimizers", "initializers", "activations")


def code_lines(path: pathlib.Path) -> int:
    source = path.read_text()
    doc_lines = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc_lines)


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent / "kernelnet"
    counts = {str(p.relative_to(root)): code_lines(p) for p in sorted(root.rglob("*.py"))}
    core = sum(n for name, n in counts.items() if name.split("/")[0].removesuffix(".py") in CORE)
    if "--all" in sys.argv[1:]:
        width = max(map(len, counts))
        for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"{name:<{width}} {n:5d}")
        print(f"{'total':<{width}} {sum(counts.values()):5d}   core: {core} (budget {BUDGET})")
    if core > BUDGET:
        print(f"scripts/loc.py: the core ({', '.join(CORE)}) has {core} code lines, over its "
              f"soft budget of {BUDGET}; `python scripts/loc.py --all` lists the modules.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
