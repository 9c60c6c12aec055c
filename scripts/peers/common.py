"""Shared by the peer scripts of scripts/bench.sh: read the benchmark CSV
(id,group,question,response) and a LIWC .dic, count hits per
(group, question, category), print one summary line.

Each peer is single-threaded and does the whole job end to end (CSV
parsing included), like `thematic code --threads 1`.
"""
import csv
import sys
from collections import Counter


def read_dic(path):
    """(term -> [category names]) from a LIWC .dic: %, id<TAB>name, %, term<TAB>id..."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0].strip() == "%"
    names = {}
    i = 1
    while lines[i].strip() != "%":
        cid, name = lines[i].split("\t", 1)
        names[cid] = name
        i += 1
    terms = {}
    for line in lines[i + 1:]:
        if not line.strip():
            continue
        parts = line.split("\t")
        terms.setdefault(parts[0], []).extend(names[c] for c in parts[1:])
    return terms


def answers(path):
    """(group, question, text) for each non-empty answer."""
    csv.field_size_limit(1 << 30)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        g, q, t = header.index("group"), header.index("question"), header.index("response")
        for row in reader:
            text = row[t]
            if text.strip():
                yield row[g], row[q], text


def run(count_answer):
    """count_answer(text) -> iterable of category names hit."""
    csv_path = sys.argv[1]
    counts = Counter()
    n = 0
    for group, question, text in answers(csv_path):
        n += 1
        for cat in count_answer(text):
            counts[(group, question, cat)] += 1
    print(f"{n} answers, {sum(counts.values())} category hits, {len(counts)} cells")
