#!/usr/bin/env python3
"""Finds import loops between the top-level modules of each crate of the workspace.

A module is a crate's top-level `mod` (a file `src/x.rs` with its folder `src/x/`); an edge
x -> y is any `crate::y` path written in x's files (uses, paths in code, doc links excluded).
Exits 1 and prints each loop found; prints the order the modules layer in otherwise.

usage: scripts/module-cycles.py [CRATE_DIR ...]   (default: every crate of the workspace)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = [".", "schemas", "rdb", "link", "producer", "consumer", "kafka", "verify", "test-support"]
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
BRACED = re.compile(r"\bcrate::\{([^}]*)\}")


def code_lines(path):
    """The file's lines without comments (doc links name modules without depending on them)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield line.split("//", 1)[0]


def modules(src):
    """Top-level module name -> its files."""
    found = {}
    for entry in sorted(os.listdir(src)):
        full = os.path.join(src, entry)
        if entry.endswith(".rs") and entry not in ("lib.rs", "main.rs"):
            found.setdefault(entry[:-3], []).append(full)
        elif os.path.isdir(full):
            for dirpath, _, files in os.walk(full):
                for name in files:
                    if name.endswith(".rs"):
                        found.setdefault(entry, []).append(os.path.join(dirpath, name))
    return found


def edges(mods):
    graph = {m: set() for m in mods}
    for module, files in mods.items():
        for path in files:
            for line in code_lines(path):
                names = PATH.findall(line)
                for group in BRACED.findall(line):
                    names += [n.strip().split("::")[0] for n in group.split(",")]
                graph[module].update(n for n in names if n in mods and n != module)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main():
    crates = sys.argv[1:] or CRATES
    failed = False
    for crate in crates:
        src = os.path.join(ROOT, crate, "src")
        graph = edges(modules(src))
        loops = cycles(graph)
        for loop in loops:
            failed = True
            print(f"{crate}: import loop between {', '.join(loop)}")
        if not loops:
            print(f"{crate}: {len(graph)} modules, no import loop")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
