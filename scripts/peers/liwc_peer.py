"""Peer: the `liwc` package (pip install liwc), LIWC .dic semantics of that
package (a token matches the shortest wildcard; phrases never match).

usage: liwc_peer.py CORPUS.csv LEXICON.dic
"""
import re
import sys

import liwc

from common import run

TOKEN = re.compile(r"\w+(?:'\w+)*")

parse, _categories = liwc.load_token_parser(sys.argv[2])


def count(text):
    for token in TOKEN.findall(text.lower().replace("\u2019", "'")):
        yield from parse(token)


run(count)
