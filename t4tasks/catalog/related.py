""""See also": each module's nearest neighbours by the words of its docs and public names (TF-IDF)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from itertools import chain
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SCORE_DECIMALS = 6               # scores are rounded before ranking: ties do not hang on BLAS bits


STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each etc few for from further
had has have having he her here hers him his how however i if in into is it its itself just may
might more most must my no nor not now of off on once only or other our ours out over own same
shall she should so some such than that the their theirs them then there these they this those
through to too under until up upon use used uses using very via was we were what when where which
while who whom why will with within without would yes you your yours
""".split())

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+")


def _normalise(word: str) -> str:
    """A light, deterministic plural folding: invoices → invoice, libraries → library."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=1 << 17)
def _ident_tokens(ident: str) -> tuple[str, ...]:
    if ident.islower() and ident.isalpha():      # the common case: a plain lowercase word
        return (_normalise(ident),) if len(ident) >= 3 and ident not in STOPWORDS else ()
    parts = [p.lower() for chunk in ident.split("_") for p in _CAMEL.findall(chunk)]
    words = [p for p in parts if p.isalpha()]
    out = [_normalise(w) for w in words if len(w) >= 3 and w not in STOPWORDS]
    if len(words) > 1:
        out.append("_".join(_normalise(w) for w in words))
    return tuple(out)


def tokens(text: str) -> list[str]:
    """Lowercase words of ≥ 3 letters without stopwords; identifiers also split into their words."""
    # ``create_invoice``/``createInvoice`` → ``create``, ``invoice``, ``create_invoice``.
    return [t for ident in _IDENT.findall(_URL.sub(" ", text)) for t in _ident_tokens(ident)]


def term_counts(text: str) -> Counter:
    """``Counter(tokens(text))``, without a Python-level step per word (cached per identifier)."""
    return Counter(chain.from_iterable(map(_ident_tokens, _IDENT.findall(_URL.sub(" ", text)))))


PAIRS_PER_BATCH = 4_000_000
DENSE_SHARE = 0.05   # terms in more than 5% of modules go through a dense matrix product (BLAS)


def _similarities(counts: list[Counter]) -> np.ndarray:
    """Cosine similarities of the TF-IDF vectors (sublinear tf, smoothed idf), n × n."""
    # Exact, in two parts: the terms many modules share, then the long tail of rarer shared terms.
    import numpy as np  # on first use: every `t4` run builds the registry, few need numpy

    n = len(counts)
    # term ids in order of first appearance over the sorted modules: fixed for a given input
    vocab = {term: j for j, term in enumerate(dict.fromkeys(chain.from_iterable(counts)))}
    scores = np.zeros((n, n), dtype=np.float64)
    if not vocab:
        return scores
    sizes = np.fromiter((len(c) for c in counts), dtype=np.int64, count=n)
    rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
    total = int(sizes.sum())
    cols = np.fromiter(map(vocab.__getitem__, chain.from_iterable(counts)), dtype=np.int64, count=total)
    tf = np.fromiter(chain.from_iterable(c.values() for c in counts), dtype=np.float64, count=total)
    df = np.bincount(cols, minlength=len(vocab))
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    weights = (1.0 + np.log(tf)) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=n))
    weights /= norms[rows]
    term_df = df[cols]
    # terms shared by many modules: a dense matrix product
    dense = term_df > max(2, DENSE_SHARE * n)
    if dense.any():
        ids, dense_cols = np.unique(cols[dense], return_inverse=True)
        matrix = np.zeros((n, len(ids)), dtype=np.float64)
        matrix[rows[dense], dense_cols] = weights[dense]
        scores += matrix @ matrix.T
    # the rarer shared terms as explicit pair products (a term in d modules costs d² products, where a
    # dense column costs n²); terms of one module only add to its norm
    tail = ~dense & (term_df >= 2)
    if tail.any():
        t_rows, t_cols, t_w, t_df = rows[tail], cols[tail], weights[tail], term_df[tail]
        order = np.lexsort((t_rows, t_cols))          # entries grouped by term
        t_rows, t_cols, t_w, t_df = t_rows[order], t_cols[order], t_w[order], t_df[order]
        flat = np.zeros(n * n, dtype=np.float64)
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        size = 0
        for d in np.unique(t_df):
            sel = t_df == d
            r = t_rows[sel].reshape(-1, d)             # one row per term: the modules holding it
            w = t_w[sel].reshape(-1, d)
            pending.append(((r[:, :, None] * n + r[:, None, :]).ravel(), (w[:, :, None] * w[:, None, :]).ravel()))
            size += pending[-1][0].size
            if size > PAIRS_PER_BATCH or d == t_df.max():
                flat += np.bincount(np.concatenate([p for p, _ in pending]),
                                    weights=np.concatenate([q for _, q in pending]), minlength=n * n)
                pending, size = [], 0
        scores += flat.reshape(n, n)
    return scores


def see_also(docs_by_module: dict[str, str], k: int = 3, min_score: float = 0.1) -> dict[str, list[str]]:
    """For each module, up to ``k`` other modules whose text is most similar, best first."""
    names = sorted(docs_by_module)  # independent of dict order
    n = len(names)
    result: dict[str, list[str]] = {name: [] for name in names}
    if n < 2 or k <= 0:
        return result
    import numpy as np

    # TF-IDF with sublinear tf and smoothed idf, cosine similarity; rounded, so that equal scores
    # (to ``SCORE_DECIMALS`` places) are ordered by name
    scores = np.round(_similarities([term_counts(docs_by_module[name] or "") for name in names]),
                      SCORE_DECIMALS)
    np.fill_diagonal(scores, -1.0)
    for i, name in enumerate(names):
        row = scores[i]
        candidates = np.flatnonzero(row > min_score)
        if candidates.size == 0:
            continue
        # best score first, then name (names are sorted, so the index orders them)
        ranked = candidates[np.lexsort((candidates, -row[candidates]))][:k]
        result[name] = [names[j] for j in ranked]
    return result
