#!/usr/bin/env python3
"""Cycles among each crate's top-level modules (crates/*/src), from their `crate::` paths.

A module is a file or folder directly under src/ (lib.rs and main.rs are the roots and are
left out); an edge A -> B is a `crate::B` path in A's code outside `#[cfg(test)]` items and
comments. Prints every strongly connected component of more than one module, with the edges
inside it, and exits 1 when there is any.
Usage: scripts/module_cycles.py [REPO_DIR]
"""
import pathlib
import re
import sys

PATH = re.compile(r"\bcrate::(?:\{\s*)?([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def code_without_tests(text: str) -> str:
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip().startswith("#[cfg(test)]"):
            depth, opened = 0, False
            i += 1
            while i < len(lines):
                s = lines[i]
                depth += s.count("{") - s.count("}")
                opened = opened or "{" in s
                i += 1
                if (opened and depth <= 0) or (not opened and s.rstrip().endswith(";")):
                    break
            continue
        line = lines[i].split("//", 1)[0]
        out.append(line)
        i += 1
    return "\n".join(out)


def modules_of(src: pathlib.Path) -> dict:
    mods = {}
    for p in src.rglob("*.rs"):
        rel = p.relative_to(src).parts
        if rel[0] in ("lib.rs", "main.rs"):
            continue
        name = rel[0][:-3] if rel[0].endswith(".rs") else rel[0]
        mods.setdefault(name, []).append(p)
    return mods


def edges_of(mods: dict) -> dict:
    edges = {m: set() for m in mods}
    for m, files in mods.items():
        for p in files:
            code = code_without_tests(p.read_text())
            targets = set(PATH.findall(code))
            for group in GROUP.findall(code):
                for item in group.split(","):
                    head = item.strip().split("::", 1)[0].strip()
                    if head:
                        targets.add(head)
            edges[m] |= {t for t in targets if t in mods and t != m}
    return edges


def components(edges: dict) -> list:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main() -> int:
    sys.setrecursionlimit(10000)
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    found = 0
    for crate in sorted((root / "crates").iterdir()):
        src = crate / "src"
        if not src.is_dir():
            continue
        edges = edges_of(modules_of(src))
        for comp in components(edges):
            found += 1
            inside = [f"{a} -> {b}" for a in comp for b in sorted(edges[a]) if b in comp]
            print(f"{crate.name}: {{{', '.join(comp)}}}\n    " + "\n    ".join(inside))
    if not found:
        print("no module cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
