#!/usr/bin/env python3
"""`long` needle test on the default model, per compression method.

A passkey sentence is hidden in a haystack of real text (the GPL-3 licence
Debian ships) at several depths. `structkv run` must answer with the
passkey:
  * every registered method at a 100% budget (and struct rate 1), query-
    agnostic, at the middle depth (a full budget loses nothing);
  * structkv, fastkv and snapkv at their default budgets (KV 10%, struct
    rate 20%) with the question inside the compressed span (query-aware),
    at 2 of 3 depths (one sample is a coin flip for a 270M model).
Prints every answer, so a failure shows what the model said.

Known miss (strict: the test fails if it starts to pass, so that this list
stays true): SnapKV at 10% on Gemma 3 270M returns 48211 at two of the three
depths (its observation window 32 does worse), while StructKV and FastKV,
whose later layers are computed on the propagated tokens only, return 48213.
See docs/compression.md.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

PASSKEY = "48213"
KNOWN_MISSES = {"snapkv"}
QUESTION = "What is the secret passkey for the archive?"


def haystack(words_wanted, depth):
    with open("/usr/share/common-licenses/GPL-3", encoding="utf-8") as f:
        words = f.read().split()
    hay = " ".join((words * (words_wanted // len(words) + 1))[:words_wanted])
    cut = hay.rfind(".", 0, int(len(hay) * depth)) + 1
    return (hay[:cut] + f" The secret passkey for the archive is {PASSKEY}. Remember it."
            + hay[cut:])


def answer(binary, model, doc_path, method, extra):
    cmd = [binary, "run", "-m", model, "-f", doc_path, "-p", QUESTION, "--kv", method,
           "-n", "12"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{p.stderr[-1500:]}")
    m = re.search(r"^A:(.*)$", p.stdout, re.M)
    return m.group(1).strip() if m else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--words", type=int, default=2200, help="haystack words (~3K tokens)")
    a = ap.parse_args()
    methods = subprocess.run([a.binary, "run", "--help"], capture_output=True,
                             text=True).stdout
    m = re.search(r"KV method: ([a-z0-9, ]+)", methods)
    if not m:
        sys.exit("FAIL: cannot list the methods from `structkv run --help`")
    registry = [x.strip() for x in m.group(1).split(",") if x.strip()]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        docs = {}
        for depth in (0.25, 0.5, 0.75):
            docs[depth] = os.path.join(tmp, f"doc_{depth}.txt")
            with open(docs[depth], "w", encoding="utf-8") as f:
                f.write(haystack(a.words, depth))
        for method in registry:
            got = answer(a.binary, a.model, docs[0.5], method,
                         ["--kv-budget", "1", "--struct-rate", "1"])
            ok = PASSKEY in got
            print(f"{'ok  ' if ok else 'FAIL'} {method:12s} budget 100% depth 50%: {got!r}")
            if not ok:
                failures.append(f"{method} at 100%")
        for method in ("structkv", "fastkv", "snapkv"):
            hits = 0
            for depth, path in docs.items():
                got = answer(a.binary, a.model, path, method, ["--query-aware"])
                hits += PASSKEY in got
                print(f"     {method:12s} default budgets, query-aware, depth "
                      f"{int(depth * 100)}%: {got!r}")
            ok = hits >= 2
            if method in KNOWN_MISSES:
                print(f"{'FAIL' if ok else 'xfail'} {method:12s} retrieved at {hits} of 3 "
                      f"depths (known miss)")
                if ok:
                    failures.append(f"{method} now retrieves: remove it from KNOWN_MISSES")
                continue
            print(f"{'ok  ' if ok else 'FAIL'} {method:12s} retrieved at {hits} of 3 depths")
            if not ok:
                failures.append(f"{method} at default budgets ({hits}/3)")
    if failures:
        sys.exit("FAIL: " + "; ".join(failures))
    print("needle retrieved everywhere required")


if __name__ == "__main__":
    main()
