#!/usr/bin/env python3
"""Bad input through the real `structkv` binary: every case must exit
non-zero (never crash) with one error line naming the file, flag, key or
tensor at fault. Standard library only; label `unit`.

Usage: cli_errors_test.py STRUCTKV_BINARY FIXTURE_GGUF_OR_EMPTY
"""
import os
import struct
import subprocess
import sys
import tempfile


def gguf_header(n_tensors, n_kv, kvs=b""):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kvs


def kv_string(key, value):
    k, v = key.encode(), value.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v


def state_round_trip(binary, fixture, tmp):
    """--save-state then --load-state through the binary: the same greedy
    answer without the document; a corrupted copy is refused by name."""
    doc = os.path.join(tmp, "long_doc.txt")
    open(doc, "w").write("The quick brown fox jumps over the lazy dog. " * 40)
    state = os.path.join(tmp, "doc.skv")
    common = ["-p", "What does the fox do?", "-n", "12", "--ignore-eos"]
    first = subprocess.run([binary, "run", "-m", fixture, "-f", doc, "--kv", "snapkv",
                            "--kv-budget", "0.5", "--save-state", state] + common,
                           capture_output=True, text=True, timeout=300)
    second = subprocess.run([binary, "run", "-m", fixture, "--load-state", state] + common,
                            capture_output=True, text=True, timeout=300)
    answer = [[l for l in r.stdout.splitlines() if l.startswith("A:")] for r in (first, second)]
    failures = 0
    if first.returncode != 0 or second.returncode != 0 or not answer[0] or answer[0] != answer[1]:
        print(f"FAIL state round trip: rc {first.returncode}/{second.returncode}, answers "
              f"{answer}\n  stderr: {first.stderr[-300:]} {second.stderr[-300:]}")
        failures += 1
    else:
        print(f"ok   state round trip: {answer[0][0][:80]}")
    data = bytearray(open(state, "rb").read())
    data[len(data) // 2] ^= 0x55
    bad = os.path.join(tmp, "flipped.skv")
    open(bad, "wb").write(bytes(data))
    res = subprocess.run([binary, "run", "-m", fixture, "--load-state", bad] + common,
                         capture_output=True, text=True, timeout=300)
    if res.returncode <= 0 or "flipped.skv" not in res.stderr or "corrupt" not in res.stderr:
        print(f"FAIL corrupted state accepted or crashed: rc {res.returncode} {res.stderr[-300:]}")
        failures += 1
    else:
        print(f"ok   corrupted state: {res.stderr.strip().splitlines()[-1][:160]}")
    return failures


def main():
    binary = sys.argv[1]
    fixture = sys.argv[2] if len(sys.argv) > 2 else ""
    tmp = tempfile.mkdtemp(prefix="skv_cli_")
    bad_magic = os.path.join(tmp, "bad_magic.gguf")
    open(bad_magic, "wb").write(b"GGUX" + b"\0" * 60)
    truncated = os.path.join(tmp, "truncated.gguf")
    open(truncated, "wb").write(gguf_header(0, 3))
    mamba = os.path.join(tmp, "mamba.gguf")
    open(mamba, "wb").write(gguf_header(0, 1, kv_string("general.architecture", "mamba")))
    doc = os.path.join(tmp, "doc.txt")
    open(doc, "w").write("A short document.")
    missing = os.path.join(tmp, "does_not_exist.txt")
    corrupt_cache = os.path.join(tmp, "corrupt.json")
    open(corrupt_cache, "w").write("{not json")

    cases = [
        (["inspect", bad_magic], ["bad_magic.gguf", "magic"]),
        (["inspect", truncated], ["truncated.gguf", "truncated"]),
        (["generate", "-m", mamba, "-p", "hi"], ["mamba.gguf", "'mamba'", "llama, qwen2, gemma3"]),
        (["generate", "-m", os.path.join(tmp, "nope.gguf"), "-p", "hi"], ["nope.gguf"]),
        (["run", "-m", mamba, "-f", missing, "-p", "q"], ["does_not_exist.txt"]),
        (["run", "-m", mamba, "-p", "q"], ["-f/--file", "--load-state"]),
        (["run", "-m", mamba, "--load-state", missing, "-p", "q", "-f", doc], ["--load-state", "-f"]),
        (["run", "-m", mamba, "-f", doc, "-p", "q", "--save-state", missing, "--query-aware"],
         ["--save-state", "--query-aware"]),
        (["perplexity", "-m", mamba, "-f", missing], ["does_not_exist.txt"]),
        (["tokenize", "-m", mamba], ["no prompt"]),
        (["generate", "-m", mamba, "-p", "x", "-f", doc], ["-p or -f"]),
        (["generate", "-m", mamba, "-p", "x", "-t", "-3"], ["--threads"]),
        (["generate", "-m", mamba, "-p", "x", "-t", "two"], ["--threads"]),
        (["bench", "-m", mamba, "-p", "5x"], ["-p/--n-prompt", "'5x'"]),
        (["bench", "-m", mamba, "-d", "1,,2"], ["-d/--n-depth"]),
        (["bench", "-m", mamba, "-t", "-1"], ["-t/--threads"]),
        (["generate", "-m", mamba, "-p", "x", "--numa", "bogus"],
         ["--numa 'bogus'", "auto, none, interleave, local"]),
        (["generate", "-m", mamba, "-p", "x", "-t", "4096", "--numa", "local"],
         ["-t/--threads 4096", "--numa none"]),
        (["bench", "-m", mamba, "--numa", "spread"], ["--numa 'spread'"]),
        (["generate", "-m", mamba, "-p", "x", "--cache-type", "q4_0"],
         ["--cache-type 'q4_0'", "f16, bf16, q8_0"]),
        (["bench", "-m", mamba, "--cache-type", "f32"], ["--cache-type 'f32'"]),
        (["bench", "-m", mamba, "-t", "1,4096", "--numa", "interleave"], ["-t/--threads 4096"]),
        (["bench", "-m", mamba, "-r", "0"], ["-r/--repetitions"]),
        (["bench", "-m", mamba, "--bw-bytes", "10"], ["--bw-bytes"]),
        (["bench", "-m", mamba, "-p", "0", "-n", "0"], ["-p and -n"]),
        (["bench", "-m", mamba, "--tokens", missing], ["--tokens", "does_not_exist.txt"]),
        (["bench", "-m", mamba + ",", "-p", "8"], ["-m/--model"]),
        (["bench", "-m", mamba, "-p", "8", "-n", "0", "--bw-bytes", "0"], ["mamba.gguf", "'mamba'"]),
        # Kernel choices from the environment: a typo stops the command.
        (["generate", "-m", mamba, "-p", "x"], ["STRUCTKV_GEMM", "'fp8'"],
         {"STRUCTKV_GEMM": "fp8"}),
        (["bench", "-m", mamba, "-p", "8"], ["STRUCTKV_SIMD_MAX", "'AVX9'"],
         {"STRUCTKV_SIMD_MAX": "AVX9"}),
    ]
    if fixture:
        cases += [
            (["generate", "-m", fixture, "-p", "hello", "--top-p", "0"], ["--top-p"]),
            (["generate", "-m", fixture, "-p", "hello world " * 20, "-c", "8"], ["-c/--ctx-size"]),
            (["perplexity", "-m", fixture, "-f", doc, "-c", "64"], ["-c/--ctx-size", "tokens"]),
            (["run", "-m", fixture, "-f", doc, "-p", "q", "--kv", "magic"], ["--kv", "magic"]),
            (["run", "-m", fixture, "-f", doc, "-p", "q", "--kv", "structkv", "--pivot", "3"],
             ["--pivot 3", "4 layers"]),
            (["run", "-m", fixture, "-f", doc, "-p", "q", "--kv", "structkv", "--pivot", "mid"],
             ["--pivot", "'mid'"]),
            (["run", "-m", fixture, "-f", doc, "-p", "q", "--kv", "fastkv", "--pivot", "auto"],
             ["--pivot auto", "fastkv"]),
            (["run", "-m", fixture, "-f", doc, "-p", "q", "--kv", "structkv", "--pivot",
              "calibrated", "--pivot-cache", corrupt_cache], ["corrupt.json"]),
            (["run", "-m", fixture, "--load-state", missing, "-p", "q"], ["does_not_exist.txt"]),
            (["run", "-m", fixture, "--load-state", corrupt_cache, "-p", "q"],
             ["corrupt.json", "not a StructKV state file"]),
            (["run", "-m", fixture, "-f", doc, "-p", "q", "--save-state",
              os.path.join(tmp, "no_such_dir", "s.skv")], ["no_such_dir"]),
        ]
    failures = 0
    for case in cases:
        args, needles = case[0], case[1]
        env = dict(os.environ, **(case[2] if len(case) > 2 else {}))
        res = subprocess.run([binary] + args, capture_output=True, text=True, timeout=120,
                             env=env)
        err = res.stderr
        ok = res.returncode not in (0,) and res.returncode > 0 and all(n in err for n in needles)
        # A crash shows as a negative return code (signal) or a sanitizer report.
        if not ok:
            failures += 1
            print(f"FAIL structkv {' '.join(a[:40] for a in args)}\n  rc={res.returncode}\n"
                  f"  wanted {needles}\n  stderr: {err.strip()[:400]}")
        else:
            print(f"ok   structkv {args[0]}: {err.strip().splitlines()[-1][:160]}")
    if fixture:
        failures += state_round_trip(binary, fixture, tmp)
    print(f"{len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
