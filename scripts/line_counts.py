#!/usr/bin/env python3
"""Non-test, non-blank Rust lines per crate under crates/*/src (unit-test modules excluded).

A `#[cfg(test)]` item is dropped from its attribute to the brace that closes it.
Usage: scripts/line_counts.py [REPO_DIR]
"""
import pathlib
import sys


def non_test_lines(text: str) -> int:
    lines = text.splitlines()
    count = 0
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("#[cfg(test)]"):
            # Skip the attributed item: to the end of the line if it has no block, else to the
            # brace that closes its block.
            depth = 0
            opened = False
            i += 1
            while i < len(lines):
                s = lines[i]
                depth += s.count("{") - s.count("}")
                opened = opened or "{" in s
                i += 1
                if (opened and depth <= 0) or (not opened and s.rstrip().endswith(";")):
                    break
            continue
        if line:
            count += 1
        i += 1
    return count


def main() -> None:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    total = 0
    for crate in sorted((root / "crates").iterdir()):
        src = crate / "src"
        if not src.is_dir():
            continue
        n = sum(non_test_lines(p.read_text()) for p in src.rglob("*.rs"))
        total += n
        print(f"{crate.name:24} {n:7}")
    print(f"{'total':24} {total:7}")


if __name__ == "__main__":
    main()
