#!/usr/bin/env python3
"""Where StructKV's logits first part from llama.cpp's on the same token ids.

Prefills N ids of a text in one batch on both runtimes (llama.cpp through
llama-cpp-python) and prints the first positions whose largest logit
difference exceeds --threshold, then the largest difference per 32
positions. Logits that agree to ~1e-6 and then jump show a single rounding
flip (an 8-bit activation or f16 value rounded the other way), not a wrong
operation. docs/correctness.md uses it.

  .venv/bin/python tools/scripts/first_divergence.py --model build/fixtures/qwen2-fixture.gguf
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import llama_cpp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--structkv", default="build/tools/structkv")
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    ap.add_argument("-n", "--n-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=1e-4)
    args = ap.parse_args()
    ref = llama_cpp.Llama(model_path=args.model, n_ctx=args.n_tokens, n_batch=args.n_tokens,
                          n_threads=args.threads, logits_all=True, verbose=False)
    ids = ref.tokenize(open(args.text, "rb").read(), add_bos=True)[:args.n_tokens]
    with tempfile.TemporaryDirectory() as tmp:
        ids_path, out_path = os.path.join(tmp, "ids.txt"), os.path.join(tmp, "logits.f32")
        with open(ids_path, "w") as f:
            f.write(" ".join(map(str, ids)))
        subprocess.run([args.structkv, "logits", "-m", args.model, "--tokens", ids_path,
                        "-c", str(len(ids)), "-t", str(args.threads), "-o", out_path],
                       check=True, capture_output=True)
        ours = np.fromfile(out_path, dtype=np.float32).reshape(len(ids), -1)
    ref.reset()
    ref.eval(ids)
    theirs = np.array(ref.scores[:len(ids)], dtype=np.float32)
    diff = np.abs(ours - theirs).max(axis=1)
    first = np.nonzero(diff > args.threshold)[0]
    print(f"{os.path.basename(args.model)}: {len(ids)} positions; first above "
          f"{args.threshold:g}: {first[:8].tolist() or 'none'}")
    for p in range(0, len(ids), 32):
        print(f"  positions {p:4d}-{min(p + 31, len(ids) - 1):4d}: max |diff| {diff[p:p + 32].max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
