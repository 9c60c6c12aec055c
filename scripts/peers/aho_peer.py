"""Peer: pyahocorasick (pip install pyahocorasick) over the lowercased
text, with word-boundary filtering: a match must start at a word start and,
unless the term is a `stem*` wildcard, end at a word end. Phrases match
with single spaces only; overlapping matches all count.

usage: aho_peer.py CORPUS.csv LEXICON.dic
"""
import sys

import ahocorasick

from common import read_dic, run

terms = read_dic(sys.argv[2])
automaton = ahocorasick.Automaton()
for term, names in terms.items():
    wildcard = term.endswith("*")
    key = term.rstrip("*").lower()
    automaton.add_word(key, (len(key), wildcard, names))
automaton.make_automaton()


def is_word(c):
    return c.isalnum() or c == "'"


def count(text):
    text = text.lower().replace("\u2019", "'")
    n = len(text)
    for end, (length, wildcard, names) in automaton.iter(text):
        start = end - length + 1
        if start > 0 and is_word(text[start - 1]):
            continue
        if not wildcard and end + 1 < n and is_word(text[end + 1]):
            continue
        yield from names


run(count)
