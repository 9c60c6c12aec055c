#!/usr/bin/env python3
"""Differential test: thematic's liwc semantics vs the `liwc` Python package.

Usage (from the repository root, after `pip install liwc`):

    python3 scripts/liwc_diff.py [--dic tests/liwc/diff.dic] [--texts tests/liwc/texts.txt]

Both sides use the same tokens: `cargo run --example liwc_counts` prints
thematic's tokens and its per-document liwc-semantics counts; this script
feeds those tokens to `liwc.load_token_parser` and counts categories the
usual way (one count per token per category). The dictionary must be one
where the package's semantics agree with LIWC's (docs/LIWC.md): no phrases
(the package never matches them), no wildcard that overlaps another entry
(the package lets the shortest wildcard win, LIWC the longest), no
duplicate terms (the package keeps the last line, LIWC unites them), and
ids written the same in header and body (the package compares them as
text). Exit code 0 when every count of every document agrees, 1 otherwise.
"""

import argparse
import collections
import json
import subprocess
import sys

try:
    import liwc
except ImportError:
    sys.exit("the `liwc` package is missing: pip install liwc")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dic", default="tests/liwc/diff.dic")
    ap.add_argument("--texts", default="tests/liwc/texts.txt")
    args = ap.parse_args()

    out = subprocess.run(
        ["cargo", "run", "--quiet", "--example", "liwc_counts", "--", args.dic, args.texts],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    docs = [json.loads(line) for line in out.splitlines() if line.strip()]

    parse, categories = liwc.load_token_parser(args.dic)
    mismatches = 0
    total_tokens = 0
    total_hits = 0
    for n, doc in enumerate(docs, start=1):
        theirs = collections.Counter(c for tok in doc["tokens"] for c in parse(tok))
        ours = collections.Counter(doc["counts"])
        total_tokens += len(doc["tokens"])
        total_hits += sum(ours.values())
        for cat in sorted(set(theirs) | set(ours) | set(categories)):
            if theirs.get(cat, 0) != ours.get(cat, 0):
                mismatches += 1
                print(f"document {n}: category {cat}: thematic {ours.get(cat, 0)}, liwc {theirs.get(cat, 0)}")
                print(f"  tokens: {doc['tokens']}")
    print(
        f"{len(docs)} documents, {total_tokens} tokens, {len(categories)} categories, "
        f"{total_hits} category hits: {mismatches} mismatching count(s) (liwc {liwc.__version__ or '?'})"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
