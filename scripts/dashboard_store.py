"""Writes a `memory import` file of N episodes cloned (new ids, varied tasks) from a small
export, for measuring the dashboard at scale:

    memory --db small.db demo && memory --db small.db export > small.jsonl
    python3 scripts/dashboard_store.py small.jsonl 100000 big.jsonl
    memory --db big.db import big.jsonl
    scripts/dashboard_timings.sh target/release/memory big.db
"""
import json, sys, hashlib, uuid, random
src, n = sys.argv[1], int(sys.argv[2])
lines = [l.rstrip("\n") for l in open(src) if l.strip()]
recs = [json.loads(l) for l in lines]
out = []
episodes = [r for r in recs if r["type"] == "episode"]
words = ["cache", "login", "deploy", "timeout", "schema", "migration", "flaky", "memory", "latency", "index",
         "parser", "queue", "retry", "auth", "billing", "report", "upload", "search", "export", "config"]
rnd = random.Random(7)
counts = dict(episodes=0, steps=0, patterns=0, context_stats=0, sessions=0, checkpoints=0, relationships=0, heuristics=0)
def emit(rec):
    line = json.dumps(rec, separators=(",", ":"))
    out.append(line)
for r in recs:
    t = r["type"]
    if t in ("trailer", "heuristic", "session"):
        continue
    if t == "episode":
        continue
    emit(r)
    if t == "pattern": counts["patterns"] += 1
    if t == "context_stats": counts["context_stats"] += 1
# Episodes after patterns (the export's order: header, context stats, patterns, episodes…)
for i in range(n):
    e = json.loads(json.dumps(rnd.choice(episodes)["record"]))
    e["id"] = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    e["task_description"] = f"{e['task_description']} ({rnd.choice(words)} {rnd.choice(words)} #{i})"
    e["pattern_ids"] = []
    e.pop("retrieval_session", None)
    emit({"type": "episode", "record": e})
    counts["episodes"] += 1
    counts["steps"] += len(e["steps"])
d = hashlib.sha256()
for l in out:
    d.update(l.encode()); d.update(b"\n")
trailer = dict(counts, lines=len(out), sha256=d.hexdigest())
with open(sys.argv[3], "w") as f:
    for l in out: f.write(l + "\n")
    f.write(json.dumps({"type": "trailer", "record": trailer}, separators=(",", ":")) + "\n")
