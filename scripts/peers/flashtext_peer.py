"""Peer: flashtext (pip install flashtext), whole-word keyword extraction.
flashtext has no wildcards: a `stem*` term is added as the whole word
`stem`, so it under-counts; phrases match.

usage: flashtext_peer.py CORPUS.csv LEXICON.dic
"""
import sys

from flashtext import KeywordProcessor

from common import read_dic, run

terms = read_dic(sys.argv[2])
kp = KeywordProcessor(case_sensitive=False)
cats = {}
for term, names in terms.items():
    key = term.rstrip("*")
    cats.setdefault(key, []).extend(names)
    kp.add_keyword(key)


def count(text):
    for key in kp.extract_keywords(text.replace("\u2019", "'")):
        yield from cats[key]


run(count)
