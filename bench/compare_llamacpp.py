#!/usr/bin/env python3
"""StructKV vs llama.cpp, row by row, in llama-bench's shape.

For each model and test (ppN: prefill N tokens into an empty cache; tgN@dD:
prefill D tokens untimed, then time N single-token decodes) this runs
`structkv bench --json` and llama.cpp (through llama-cpp-python, in this
process) with the same thread count and the same token ids, alternating which
side goes first on each repetition so that drift on a noisy, shared machine
falls on both sides equally. It prints tokens/s for both (mean ± sample
stddev over the repetitions) and the ratio StructKV / llama.cpp per row.

Token ids: the text (-f, default /usr/share/common-licenses/GPL-3) tokenized
by llama.cpp's tokenizer with BOS, its body repeated to length; the ids are
written to a file and passed to `structkv bench --tokens`, so both runtimes
see identical ids. Both compute the last position's logits on every step.

Which llama.cpp (`--llama`, recorded in the output's `note`):
  native    (default when built) models-cache/llama-native, the same
            llama-cpp-python version compiled with -DGGML_NATIVE=ON for this
            CPU (AVX-512, VNNI, BF16) by bench/build_llamacpp_native.sh: the
            fair opponent, since StructKV also uses the best target it finds.
  portable  the reference build in .venv that the tests use (tools/setup.sh:
            GGML_NATIVE=OFF, AVX2/FMA/F16C, no AVX-512).
  DIR       any directory holding a `llama_cpp` package.

Usage (venv python):
  .venv/bin/python bench/compare_llamacpp.py -m models-cache/gemma-3-270m-q4_k_m.gguf \
      -p 512 -n 32 -d 0,512 -t 2 -r 3 [--llama native|portable|DIR] \
      [--structkv build/tools/structkv] [--json OUT]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

NOTES = {
    "portable": ("llama.cpp is the pip-built llama-cpp-python {ver} wheel: a "
                 "portable build (tools/setup.sh: GGML_NATIVE=OFF, "
                 "AVX2+FMA+F16C, no AVX-512); "),
    "native": ("llama.cpp is llama-cpp-python {ver} built with "
               "-DGGML_NATIVE=ON for this CPU (bench/build_llamacpp_native.sh, "
               "{path}); "),
    "dir": "llama.cpp is the llama_cpp package {ver} in {path}; ",
}
NOTE_TAIL = "StructKV picks its SIMD target at run time (simd_target column)."

DEFAULT_TEXT = "/usr/share/common-licenses/GPL-3"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIVE_DIR = os.path.join(REPO, "models-cache", "llama-native")


def int_list(flag):
    def parse(text):
        try:
            values = [int(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} must be comma-separated integers, got '{text}'")
        if any(v < 0 for v in values):
            raise argparse.ArgumentTypeError(f"{flag} must be >= 0, got '{text}'")
        return values
    return parse


def plan_tests(prompts, gens, depths):
    """Same order and names as runtime/bench.cc PlanTests."""
    tests = [{"test": f"pp{p}", "n_prompt": p, "n_gen": 0, "depth": 0}
             for p in prompts if p > 0]
    for n in gens:
        if n <= 0:
            continue
        for d in depths:
            name = f"tg{n}" + (f"@d{d}" if d > 0 else "")
            tests.append({"test": name, "n_prompt": 0, "n_gen": n, "depth": d})
    return tests


def warmup_test(test):
    """The shortened run both sides warm up with: <= 512 prompt or depth
    tokens (one prefill batch: every weight page faulted in) and <= 8
    decodes."""
    short = dict(test)
    short["n_prompt"] = min(test["n_prompt"], 512)
    short["depth"] = min(test["depth"], 512)
    short["n_gen"] = min(test["n_gen"], 8)
    return short


def stats(values):
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, sd


class LlamaCpp:
    def __init__(self, model, threads, n_ctx, n_batch):
        import llama_cpp
        self.lib = llama_cpp
        self.llm = llama_cpp.Llama(
            model_path=model, n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_batch,
            n_threads=threads, n_threads_batch=threads, logits_all=False,
            verbose=False)

    def tokenize(self, text):
        return self.llm.tokenize(text, add_bos=True, special=False)

    def _eval(self, ids):
        self.llm.eval(ids)
        # The CPU backend computes synchronously, but make the timing
        # independent of that detail.
        self.lib.llama_synchronize(self.llm._ctx.ctx)

    def run(self, test, ids):
        """Seconds of the timed part (Llama.reset + eval starts from an empty
        KV cache: eval removes cache entries past n_tokens)."""
        self.llm.reset()
        if test["n_gen"] == 0:
            t0 = time.perf_counter()
            self._eval(ids[:test["n_prompt"]])
            return time.perf_counter() - t0
        d = test["depth"]
        if d > 0:
            self._eval(ids[:d])
        t0 = time.perf_counter()
        for i in range(test["n_gen"]):
            self._eval([ids[d + i]])
        return time.perf_counter() - t0


def run_structkv(binary, model, test, threads, tokens_file, n_batch):
    """One `structkv bench` process for one repetition of one test (with its
    own untimed warm-up); returns (tokens/s, row)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        cmd = [binary, "bench", "-m", model,
               "-p", str(test["n_prompt"]), "-n", str(test["n_gen"]),
               "-d", str(test["depth"]), "-t", str(threads), "-r", "1",
               "-b", str(n_batch), "--bw-bytes", "0",
               "--tokens", tokens_file, "--json", out]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"compare_llamacpp: {' '.join(cmd)} failed:\n{proc.stderr}")
        with open(out) as f:
            rows = json.load(f)
    finally:
        os.unlink(out)
    if len(rows) != 1 or rows[0]["test"] != test["test"]:
        sys.exit(f"compare_llamacpp: unexpected rows from structkv: {rows}")
    return rows[0]["tps_samples"][0], rows[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="GGUF file(s), comma-separated")
    ap.add_argument("-p", "--n-prompt", type=int_list("-p"), default=[512])
    ap.add_argument("-n", "--n-gen", type=int_list("-n"), default=[128])
    ap.add_argument("-d", "--n-depth", type=int_list("-d"), default=[0])
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-r", "--repetitions", type=int, default=3)
    ap.add_argument("-b", "--batch-size", type=int, default=512)
    ap.add_argument("-f", "--file", default=DEFAULT_TEXT,
                    help="text whose llama.cpp token ids feed both runtimes")
    ap.add_argument("--structkv", default=os.path.join(REPO, "build/tools/structkv"))
    ap.add_argument("--llama", default=None,
                    help="native (models-cache/llama-native; the default when "
                         "built), portable (.venv), or a directory with llama_cpp")
    ap.add_argument("--json", help="write the comparison as JSON")
    args = ap.parse_args()
    if args.repetitions <= 0:
        ap.error("-r must be > 0")
    if args.threads <= 0:
        ap.error("-t must be > 0")
    if not os.access(args.structkv, os.X_OK):
        ap.error(f"--structkv {args.structkv}: not an executable")
    tests = plan_tests(args.n_prompt, args.n_gen, args.n_depth)
    if not tests:
        ap.error("no tests: -p and -n are both 0")
    with open(args.file, "rb") as f:
        text = f.read()

    which = args.llama
    if which is None:
        which = "native" if os.path.isdir(NATIVE_DIR) else "portable"
    path = {"native": NATIVE_DIR, "portable": None}.get(which, which)
    if path is not None:
        if not os.path.isdir(os.path.join(path, "llama_cpp")):
            hint = (" (run bench/build_llamacpp_native.sh)" if which == "native"
                    else "")
            ap.error(f"--llama {which}: no llama_cpp package in {path}{hint}")
        sys.path.insert(0, path)
    import llama_cpp
    kind = which if which in NOTES else "dir"
    if kind == "portable":
        print("compare_llamacpp: using the portable llama.cpp build (no AVX-512); "
              "bench/build_llamacpp_native.sh builds the native one",
              file=sys.stderr)
    note = NOTES[kind].format(ver=llama_cpp.__version__, path=path) + NOTE_TAIL
    need = max(t["n_prompt"] or t["depth"] + t["n_gen"] for t in tests)
    results = []
    for model in args.model.split(","):
        ref = LlamaCpp(model, args.threads, need, args.batch_size)
        first = ref.tokenize(text)
        body = ref.llm.tokenize(text, add_bos=False, special=False)
        ids = list(first)
        while len(ids) < need:
            ids += body
        ids = ids[:need]
        with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
            f.write(" ".join(map(str, ids)) + "\n")
            tokens_file = f.name
        try:
            for test in tests:
                # llama.cpp warm-up, shortened like structkv bench's own
                # (runtime/bench.h kWarmupPromptTokens / kWarmupDecodeTokens),
                # which every structkv process does before its repetition.
                ref.run(warmup_test(test), ids)
                skv, ref_tps, row = [], [], None
                for rep in range(args.repetitions):
                    order = ("skv", "ref") if rep % 2 == 0 else ("ref", "skv")
                    for side in order:
                        if side == "skv":
                            tps, row = run_structkv(args.structkv, model, test,
                                                    args.threads, tokens_file,
                                                    args.batch_size)
                            skv.append(tps)
                        else:
                            timed = test["n_gen"] or test["n_prompt"]
                            ref_tps.append(timed / ref.run(test, ids))
                s_mean, s_sd = stats(skv)
                r_mean, r_sd = stats(ref_tps)
                results.append({
                    "model": model, "test": test["test"],
                    "n_prompt": test["n_prompt"], "n_gen": test["n_gen"],
                    "depth": test["depth"], "threads": args.threads,
                    "reps": args.repetitions,
                    "structkv_tps_mean": s_mean, "structkv_tps_stddev": s_sd,
                    "structkv_tps_samples": skv,
                    "llamacpp_tps_mean": r_mean, "llamacpp_tps_stddev": r_sd,
                    "llamacpp_tps_samples": ref_tps,
                    "ratio": s_mean / r_mean,
                    "structkv_simd_target": row["simd_target"],
                    "quant_type": row["quant_type"],
                    "llamacpp_build": kind,
                })
                r = results[-1]
                print(f"{os.path.basename(model)} {r['test']}: structkv "
                      f"{s_mean:.2f} ± {s_sd:.2f} t/s, llama.cpp {r_mean:.2f} ± "
                      f"{r_sd:.2f} t/s, ratio {r['ratio']:.2f}", file=sys.stderr)
        finally:
            os.unlink(tokens_file)
        del ref

    print(f"| {'model':<30} | {'test':>12} | {'StructKV t/s':>18} | "
          f"{'llama.cpp t/s':>18} | {'ratio':>6} |")
    print(f"|{'-' * 32}|{'-' * 14}:|{'-' * 19}:|{'-' * 19}:|{'-' * 7}:|")
    for r in results:
        s = f"{r['structkv_tps_mean']:.2f} ± {r['structkv_tps_stddev']:.2f}"
        l = f"{r['llamacpp_tps_mean']:.2f} ± {r['llamacpp_tps_stddev']:.2f}"
        print(f"| {os.path.basename(r['model']):<30} | {r['test']:>12} | {s:>18} | "
              f"{l:>18} | {r['ratio']:>6.2f} |")
    print(f"threads {args.threads}, {args.repetitions} reps (A/B alternated), "
          f"StructKV simd {results[0]['structkv_simd_target']}")
    print(f"note: {note}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"note": note, "argv": sys.argv, "rows": results}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
