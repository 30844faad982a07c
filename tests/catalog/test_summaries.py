"""Module summaries (docstring, else README) and "see also" (TF-IDF cosine), on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from t4tasks.catalog import related
from t4tasks.catalog.related import see_also
from t4tasks.catalog.summaries import build, public_names, summary
from tests.support import REPO, write

PAYMENTS = """# payments

Payment processing: create invoices, send invoice reminders, record payments against invoices,
refund payments and reconcile invoice totals with the payment provider.
"""
BILLING = """# billing

Billing for customers: monthly invoices, invoice numbering, payment terms, overdue invoice
reminders and payment receipts.
"""
THUMBS = """# thumbnails

Image thumbnails: resize pictures, crop images to squares, cache thumbnail files and send
scaled image previews in JPEG or PNG to customers.
"""


def module(root: Path, name: str, readme: str | bytes | None = None, init: str | bytes | None = None) -> dict:
    """Write a module folder; return its registry entry (the fields summaries reads)."""
    docs = []
    if readme is not None:
        write(root / name / "README.md", readme)
        docs.append(f"{name}/README.md")
    if init is not None:
        write(root / name / "__init__.py", init)
    return {"name": name, "path": name, "code": name, "docs": docs}


# ---------------------------------------------------------------------------------------------
# summary


def test_docstring_wins_over_readme(tmp_path):
    e = module(tmp_path, "pay", readme="# pay\n\nFrom the README.\n",
               init='"""Takes   payments\n   for invoices.\n\nSecond paragraph is not used."""\nX = 1\n')
    assert summary(tmp_path, e["code"], e["docs"]) == "Takes payments for invoices."


def test_readme_used_without_docstring_and_never_imported(tmp_path):
    # no docstring, and importing the package would raise: only ast reads it
    e = module(tmp_path, "pay", readme="Charges cards.\n", init="raise SystemExit('imported!')\n")
    assert summary(tmp_path, e["code"], e["docs"]) == "Charges cards."


def test_readme_first_prose_paragraph_after_front_matter_headings_badges(tmp_path):
    readme = """---
title: Payments

description: Front matter is not the summary.
---
<!-- a comment
spanning lines -->
# Payments

[![CI](https://ci.example/badge.svg)](https://ci.example) ![coverage](https://cov.example/b.svg) | [Docs](https://docs.example)

<p align="center"><img src="logo.png" alt="logo"></p>

Overview
--------

```python
import payments  # a code fence is not prose
```

The **payments** module takes [card payments](docs/cards.md) and
issues `Invoice` objects.

Second paragraph.
"""
    e = module(tmp_path, "pay", readme=readme)
    assert summary(tmp_path, e["code"], e["docs"]) == "The payments module takes card payments and issues Invoice objects."


def test_module_readme_preferred_over_nested_docs_readme(tmp_path):
    write(tmp_path / "pay/docs/README.md", "Nested docs readme.\n")
    write(tmp_path / "pay/README.md", "Top readme.\n")
    assert summary(tmp_path, "pay", ["pay/docs/README.md", "pay/README.md"]) == "Top readme."


def test_long_text_is_cut_at_a_word_boundary(tmp_path):
    words = " ".join(f"invoice-{i}" for i in range(60))   # 649 characters
    assert " " not in words[157:161]                       # a plain cut would split a word
    e = module(tmp_path, "pay", init=f'"""{words}"""\n')
    line = summary(tmp_path, e["code"], e["docs"])
    assert len(line) <= 160
    assert line.endswith("…")
    kept = line[:-1].split(" ")
    assert kept == words.split(" ")[: len(kept)]          # whole words only
    assert len(line) > 150                                  # and as many as fit


def test_short_text_is_left_alone_and_whitespace_collapsed(tmp_path):
    e = module(tmp_path, "pay", readme="  Exactly\tthis,\n   nothing   more.  \n")
    assert summary(tmp_path, e["code"], e["docs"]) == "Exactly this, nothing more."


def test_syntax_error_init_falls_back_to_readme(tmp_path):
    e = module(tmp_path, "pay", readme="From the README.\n", init='"""Docstring."""\ndef broken(:\n')
    assert summary(tmp_path, e["code"], e["docs"]) == "From the README."
    assert public_names(tmp_path, "pay") == []


def test_non_utf8_files_fall_back_without_raising(tmp_path):
    e = module(tmp_path, "pay", readme=b"Caf\xe9 payments \xff\xfe.\n", init=b'"""Caf\xe9."""\n')
    assert summary(tmp_path, e["code"], e["docs"]) == ""
    assert public_names(tmp_path, "pay") == []
    # the non-UTF-8 docstring falls back to a good README
    f = module(tmp_path, "shop", readme="Sells things.\n", init=b'"""Caf\xe9."""\n')
    assert summary(tmp_path, f["code"], f["docs"]) == "Sells things."
    assert build(tmp_path, {"modules": [e, f]})["pay"] == {"summary": "", "see_also": []}


def test_missing_files_and_symlink_escape_give_empty(tmp_path):
    assert summary(tmp_path, "nowhere", ["nowhere/README.md"]) == ""
    outside = write(tmp_path / "outside" / "README.md", "Secret text outside the repository.\n")
    root = tmp_path / "repo"
    (root / "pay").mkdir(parents=True)
    (root / "pay" / "README.md").symlink_to(outside)
    assert summary(root, "pay", ["pay/README.md"]) == ""


# ---------------------------------------------------------------------------------------------
# public names


def test_all_is_respected(tmp_path):
    module(tmp_path, "pay", init="__all__ = ['Invoice', 'charge']\n"
                                 "from .core import Invoice\n"
                                 "def charge(): ...\n"
                                 "def refund(): ...\n"
                                 "class Gateway: ...\n")
    assert public_names(tmp_path, "pay") == ["Invoice", "charge"]


def test_without_literal_all_public_defs_and_assignments(tmp_path):
    module(tmp_path, "pay", init="import os\n"
                                 "__all__ = [n for n in dir() if n]\n"      # not a literal: ignored
                                 "VERSION = '1'\n"
                                 "a, (b, _c) = 1, (2, 3)\n"
                                 "limit: int = 3\n"
                                 "_private = 1\n"
                                 "def charge(): ...\n"
                                 "async def _hidden(): ...\n"
                                 "class Gateway: ...\n"
                                 "if True:\n    nested = 1\n")
    assert public_names(tmp_path, "pay") == ["Gateway", "VERSION", "a", "b", "charge", "limit"]


def test_root_package_code_path_dot(tmp_path):
    write(tmp_path / "__init__.py", '"""Root package."""\n__all__ = ("z", "a")\n')
    assert public_names(tmp_path, ".") == ["a", "z"]
    assert summary(tmp_path, ".", []) == "Root package."


# ---------------------------------------------------------------------------------------------
# see also


def test_tokens_split_identifiers_and_drop_stopwords():
    found = related.tokens("The createInvoice and send_payment_reminder of an HTTPServer at https://x.io/zzz")
    assert {"create", "invoice", "create_invoice", "send", "payment", "reminder",
            "send_payment_reminder", "http", "server"} <= set(found)
    assert not {"the", "and", "an", "of", "at", "https", "zzz"} & set(found)


def test_see_also_payment_modules_find_each_other_image_module_nothing():
    related = see_also({"payments": PAYMENTS, "billing": BILLING, "thumbnails": THUMBS})
    assert related["payments"] == ["billing"]
    assert related["billing"] == ["payments"]
    assert related["thumbnails"] == []
    # it does share words ("send", "customers"): the threshold, not an empty overlap, keeps it out
    assert see_also({"payments": PAYMENTS, "billing": BILLING, "thumbnails": THUMBS},
                    min_score=0.0)["thumbnails"] == ["billing", "payments"]


def test_see_also_ranks_best_first_and_caps_at_k():
    docs = {
        "payments": PAYMENTS,
        "billing": BILLING,
        "refunds": "Refund payments: refund card payments and send refund receipts.",
        "ledger": "Accounting ledger entries for payments.",
        "thumbnails": THUMBS,
    }
    related = see_also(docs, k=2, min_score=0.0)
    assert len(related["payments"]) == 2
    assert related["payments"][0] == "billing"
    assert "thumbnails" not in related["payments"]
    assert see_also(docs, k=0)["payments"] == []


def test_see_also_ties_broken_by_name():
    # b, c and a hold identical text: equal scores, so names decide
    same = "Invoice payments and refunds."
    related = see_also({"c": same, "a": same, "b": same, "z": THUMBS}, k=3)
    assert related["a"] == ["b", "c"]
    assert related["c"] == ["a", "b"]


def test_see_also_independent_of_dict_order():
    docs = {"payments": PAYMENTS, "billing": BILLING, "thumbnails": THUMBS,
            "refunds": "Refund payments for invoices.", "images": "Image resize and crop for pictures.",
            "a": "payments", "b": "payments"}
    forward = see_also(docs, k=2, min_score=0.0)
    backward = see_also(dict(reversed(list(docs.items()))), k=2, min_score=0.0)
    assert json.dumps(forward) == json.dumps(backward)
    assert list(forward) == sorted(docs)


def test_see_also_empty_inputs():
    assert see_also({}) == {}
    assert see_also({"only": PAYMENTS}) == {"only": []}
    assert see_also({"x": "", "y": ""}) == {"x": [], "y": []}


# ---------------------------------------------------------------------------------------------
# build


def _repo(root: Path) -> dict:
    entries = [
        module(root, "payments", readme=PAYMENTS, init='"""Take payments and issue invoices."""\n__all__ = ["create_invoice"]\n'),
        module(root, "billing", readme=BILLING),
        module(root, "thumbnails", readme=THUMBS, init="def make_thumbnail(image): ...\n"),
        module(root, "broken", readme=b"\xff\xfe", init="def (:\n"),
    ]
    dup = {**entries[0], "manifest": "other/module.manifest.json", "duplicate_of": "payments/module.manifest.json",
           "code": "other"}
    return {"schema_version": "t4.registry/1", "modules": [*entries, dup]}


def test_build_shape_and_content(tmp_path):
    result = build(tmp_path, _repo(tmp_path))
    assert list(result) == ["billing", "broken", "payments", "thumbnails"]
    assert result["payments"] == {"summary": "Take payments and issue invoices.", "see_also": ["billing"]}
    assert result["billing"]["see_also"] == ["payments"]
    assert result["billing"]["summary"].startswith("Billing for customers: monthly invoices")
    assert result["thumbnails"]["see_also"] == []
    assert result["broken"] == {"summary": "", "see_also": []}


def test_build_is_byte_identical_across_runs_and_hash_seeds(tmp_path):
    registry = _repo(tmp_path)
    reversed_registry = {**registry, "modules": list(reversed(registry["modules"]))}
    script = ("import json, sys; from pathlib import Path; from t4tasks.catalog import summaries; "
              "reg = json.loads(sys.stdin.read()); "
              "sys.stdout.write(json.dumps(summaries.build(Path(sys.argv[1]), reg), ensure_ascii=False))")
    outputs = []
    for seed, reg in (("1", registry), ("2", reversed_registry), ("3", registry)):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], input=json.dumps(reg),
                              capture_output=True, text=True, env=env, cwd=REPO, check=True)
        outputs.append(proc.stdout.encode())
    assert outputs[0] == outputs[1] == outputs[2]
    assert json.loads(outputs[0]) == build(tmp_path, registry)


def test_build_is_fast_for_a_monorepo(tmp_path):
    topics = ["payment invoice refund", "image thumbnail crop", "queue message broker",
              "cache memory eviction", "auth token session", "metric histogram export"]
    entries = []
    for i in range(140):
        topic = topics[i % len(topics)]
        entries.append(module(tmp_path, f"mod{i:03d}",
                              readme=f"# mod{i:03d}\n\nHandles {topic} work number {i}.\n\n" + f"{topic} details. " * 40,
                              init=f'"""The {topic} package {i}."""\ndef run_{i}(): ...\n'))
    start = time.perf_counter()
    result = build(tmp_path, {"modules": entries})
    elapsed = time.perf_counter() - start
    assert len(result) == 140
    assert result["mod000"]["see_also"][0] in {f"mod{i:03d}" for i in range(6, 140, 6)}
    assert elapsed < 1.0, f"build took {elapsed:.2f} s for 140 modules"


@pytest.mark.parametrize("registry", [{"modules": []}, {}, []])
def test_build_empty_registry(tmp_path, registry):
    assert build(tmp_path, registry) == {}


@pytest.mark.parametrize("dense_share", [0.0, 0.05, 1.0])
def test_similarities_match_a_plain_dense_tf_idf(monkeypatch, dense_share):
    """The dense-plus-pairs split gives the textbook cosine of sublinear-tf, smoothed-idf vectors."""
    import random

    import numpy as np
    rng = random.Random(7)
    words = [f"w{chr(97 + i)}{chr(97 + j)}x" for i in range(8) for j in range(8)]
    counts = [related.term_counts(" ".join(rng.choices(words, k=rng.randint(0, 40))) + f" only{chr(97 + i // 26)}{chr(97 + i % 26)}")
              for i in range(40)]
    counts[3] = related.term_counts("")                  # an empty module too
    monkeypatch.setattr(related, "DENSE_SHARE", dense_share)
    fast = related._similarities(counts)
    vocab = sorted({t for c in counts for t in c})
    n = len(counts)
    tf = np.array([[c.get(t, 0) for t in vocab] for c in counts], dtype=float)
    df = (tf > 0).sum(axis=0)
    x = np.where(tf > 0, 1 + np.log(np.where(tf > 0, tf, 1)), 0) * (np.log((1 + n) / (1 + df)) + 1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    off_diagonal = ~np.eye(n, dtype=bool)   # the diagonal (self-similarity) is never used
    assert np.allclose(fast[off_diagonal], (x @ x.T)[off_diagonal], rtol=0, atol=1e-12)
    assert (x @ x.T)[off_diagonal].max() > 0.3
