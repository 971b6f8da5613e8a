#!/usr/bin/env python3
"""Prefill and decode cost of KV compression against the uncompressed cache.

For each prompt length, builds a document of about that many tokens from
text shipped with Debian (the licenses in /usr/share/common-licenses, or
--text), then runs `structkv run` once per method with --compare-full (the
same span also prefilled uncompressed, in the same process, right after,
and decoded after the compressed answer: prefill time and decode speed are
measured side by side) and --ignore-eos (a fixed number
of decoded tokens). Prints a markdown table and writes JSON rows.

  bench/compress_bench.py -m models-cache/gemma-3-270m-q4_k_m.gguf \
      --lengths 4096,8192 --methods structkv,fastkv,snapkv --out bench.json
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_text(paths):
    parts = []
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            parts.append(f.read())
    text = "\n\n".join(parts)
    if not text.strip():
        sys.exit("compress_bench: the text sources are empty")
    return text


def count_tokens(binary, model, text):
    out = subprocess.run([binary, "tokenize", "-m", model, "-p", text],
                         capture_output=True, text=True, check=True).stdout
    return len(out.split())


def make_document(binary, model, text, n_tokens, path):
    sample = text[:20000]
    chars_per_token = len(sample) / max(1, count_tokens(binary, model, sample))
    want_chars = int(n_tokens * chars_per_token)
    doc = (text * (want_chars // len(text) + 1))[:want_chars]
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)


def parse(out):
    row = {}
    m = re.search(r"prompt_tokens=(\d+)", out)
    row["prompt_tokens"] = int(m.group(1)) if m else None
    m = re.search(r"generated=(\d+) decode=([\d.]+)s \(([\d.]+) tok/s\)", out)
    if m:
        row["decode_tokens"], row["decode_s"], row["decode_tok_s"] = (
            int(m.group(1)), float(m.group(2)), float(m.group(3)))
    m = re.search(r"KV bytes ([\d.]+ \w+) kept / ([\d.]+ \w+) full \(measured compression "
                  r"ratio ([\d.]+)\)", out)
    if m:
        row["kv_kept"], row["kv_full"], row["compression_ratio"] = (
            m.group(1), m.group(2), float(m.group(3)))
    m = re.search(r"work: prefill ([\d.e+]+) GFLOP against ([\d.e+]+) full \(([\d.]+)%", out)
    if m:
        row["gflop"], row["gflop_full"], row["flop_pct"] = (
            float(m.group(1)), float(m.group(2)), float(m.group(3)))
    m = re.search(r"; (pivot layer \d+[^\n]*|filter layer \d+[^\n]*|no pivot[^\n]*)", out)
    row["pivot"] = m.group(1) if m else ""
    m = re.search(r"time: compressed prefill ([\d.]+)s \(selection ([\d.]+)s, scoring hooks "
                  r"([\d.]+)s\) against ([\d.]+)s uncompressed: ([\d.]+)x", out)
    if m:
        (row["prefill_s"], row["select_s"], row["scoring_s"], row["full_prefill_s"],
         row["speedup"]) = (float(m.group(1)), float(m.group(2)), float(m.group(3)),
                            float(m.group(4)), float(m.group(5)))
    m = re.search(r"decode: ([\d.]+ \w+) read per token \(weights ([\d.]+ \w+) \+ KV "
                  r"([\d.]+ \w+)\)", out)
    if m:
        row["decode_read"], row["decode_kv_read"] = m.group(1), m.group(3)
    m = re.search(r"decode, full KV: ([\d.]+ \w+) read per token \(weights [\d.]+ \w+ \+ KV "
                  r"([\d.]+ \w+)\), \d+ tokens in [\d.]+s \(([\d.]+) tok/s\)", out)
    if m:
        row["full_decode_read"], row["full_decode_kv_read"], row["full_decode_tok_s"] = (
            m.group(1), m.group(2), float(m.group(3)))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tools", "structkv"))
    ap.add_argument("--lengths", default="4096,8192")
    ap.add_argument("--methods", default="structkv,fastkv,snapkv,gemfilter")
    ap.add_argument("--kv-budget", default="0.1")
    ap.add_argument("--struct-rate", default="0.2")
    ap.add_argument("--extra", default="", help="more `structkv run` flags, e.g. '--pivot 8'")
    ap.add_argument("-n", "--decode", type=int, default=32)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--text", nargs="*", help="text files for the document")
    ap.add_argument("--workdir", default="/tmp/skv_compress_bench")
    ap.add_argument("--out", help="append JSON rows to this file")
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        sys.exit(f"compress_bench: {a.binary} not found (build first or pass --binary)")
    text = source_text(a.text or sorted(p for p in glob.glob("/usr/share/common-licenses/*")
                                        if os.path.isfile(p)))
    os.makedirs(a.workdir, exist_ok=True)
    rows = []
    print("| model | tokens | method | prefill FLOPs vs full | prefill time vs full "
          "(speed-up) | selection | pivot | KV kept / full (ratio) | decode read/token | "
          "decode tok/s | full KV: decode read/token | full KV: decode tok/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.lengths.split(",")]:
        doc = os.path.join(a.workdir, f"doc_{n}.txt")
        make_document(a.binary, a.model, text, n, doc)
        for method in a.methods.split(","):
            cmd = [a.binary, "run", "-m", a.model, "-f", doc, "-p",
                   "Summarise the document.", "--kv", method, "--kv-budget", a.kv_budget,
                   "--struct-rate", a.struct_rate, "-n", str(a.decode), "--ignore-eos",
                   "-t", str(a.threads)] + a.extra.split()
            if method != "full":  # full's own prefill is the uncompressed one
                cmd.append("--compare-full")
            t0 = time.time()
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"compress_bench: {' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
            row = parse(p.stdout + p.stderr)
            row.update(model=os.path.basename(a.model), method=method, length=n,
                       threads=a.threads, kv_budget=a.kv_budget, struct_rate=a.struct_rate,
                       extra=a.extra, wall_s=round(time.time() - t0, 1))
            rows.append(row)
            print(f"| {row['model']} | {row.get('prompt_tokens')} | {method} | "
                  f"{row.get('flop_pct', float('nan')):.1f}% | "
                  f"{row.get('prefill_s', 0):.1f}s vs {row.get('full_prefill_s', 0):.1f}s "
                  f"({row.get('speedup', 0):.2f}x) | {row.get('select_s', 0):.3f}s | "
                  f"{row.get('pivot', '')} | {row.get('kv_kept')} / {row.get('kv_full')} "
                  f"({row.get('compression_ratio', 0):.3f}) | {row.get('decode_read')} | "
                  f"{row.get('decode_tok_s', 0):.2f} | {row.get('full_decode_read', '')} | "
                  f"{row.get('full_decode_tok_s', 0):.2f} |", flush=True)
            if a.out:
                with open(a.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
