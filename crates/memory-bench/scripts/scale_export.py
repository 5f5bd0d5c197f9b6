"""Scale an export up: writes an import file of N episodes and 10*N patterns, each a copy of
one of SOURCE's (an export, e.g. of `memory demo`) under a new id, episodes one second apart
and patterns with distinct signatures, ending with the trailer `memory import` checks.

    memory --db demo.db demo && memory --db demo.db export --out demo.jsonl
    python3 scale_export.py demo.jsonl 40000 big.jsonl
    memory --db big.db import big.jsonl

It is also an example of writing an import file from another tool: the trailer counts the
lines and records before it and carries the SHA-256 of those lines, each followed by a
newline.
"""
import datetime
import hashlib
import json
import sys
import uuid

source, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
records = [json.loads(line) for line in open(source, encoding="utf-8")]
header = next(r for r in records if r["type"] == "header")
episodes = [r for r in records if r["type"] == "episode"]
patterns = [r for r in records if r["type"] == "pattern"]
t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

digest = hashlib.sha256()
trailer = dict(episodes=0, steps=0, patterns=0, context_stats=0, sessions=0,
               checkpoints=0, relationships=0, heuristics=0, lines=0)
with open(out, "w", encoding="utf-8") as f:
    def emit(record, kind=None):
        line = json.dumps(record, separators=(",", ":"))
        f.write(line + "\n")
        digest.update((line + "\n").encode())
        trailer["lines"] += 1
        if kind:
            trailer[kind] += 1

    emit(header)
    for i in range(10 * n):
        p = json.loads(json.dumps(patterns[i % len(patterns)]))
        p["record"]["id"] = str(uuid.uuid4())
        p["record"]["signature"] = f"{p['record']['signature']}-{i}"
        emit(p, "patterns")
    for i in range(n):
        e = json.loads(json.dumps(episodes[i % len(episodes)]))
        rec = e["record"]
        rec["id"] = str(uuid.uuid4())
        rec["started_at"] = stamp(t0 + datetime.timedelta(seconds=i))
        rec["ended_at"] = stamp(t0 + datetime.timedelta(seconds=i, milliseconds=500))
        rec["pattern_ids"] = []
        rec["retrieval_session"] = None
        trailer["steps"] += len(rec["steps"])
        emit(e, "episodes")
    trailer["sha256"] = digest.hexdigest()
    f.write(json.dumps({"type": "trailer", "record": trailer}) + "\n")
