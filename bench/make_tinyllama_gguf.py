#!/usr/bin/env python3
"""Random-weight GGUF files with TinyLlama-1.1B's shapes, for benchmarks.

Speed depends on shapes and tensor types, not on trained values, so these
files stand in for TinyLlama-1.1B (2048 hidden, 22 layers, 32 heads, 4 KV
heads, head_dim 64, feed-forward 5632, vocab 32000) in F16, Q8_0 and Q4_K_M
without downloading a checkpoint. Weights are random but well formed: F16
values are N(0, 0.02); quantised blocks have random codes and fp16 scales
chosen so dequantised weights are of the same order, so activations stay
finite through all 22 layers (a nan would send both runtimes down slow
paths). Q4_K_M uses llama.cpp's mix: Q4_K everywhere except output (Q6_K)
and attn_v / ffn_down on the "more bits" layers (Q6_K).

The vocabulary is a SentencePiece ("llama") one of byte tokens and filler
pieces: text tokenizes to byte tokens in both runtimes, and the comparison
script passes llama.cpp's ids to StructKV anyway.

Files are written next to each other (never committed), e.g.:
  .venv/bin/python bench/make_tinyllama_gguf.py --out build-perf/models \\
      --types f16,q8_0,q4_k_m
"""
import argparse
import os
import sys

import numpy as np
import gguf

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF, N_VOCAB = 2048, 22, 32, 4, 5632, 32000
HEAD_DIM = N_EMBD // N_HEAD
Q = gguf.GGMLQuantizationType

# Bytes per block and block size of the quantised types written here.
BLOCK = {Q.Q8_0: (34, 32), Q.Q4_K: (144, 256), Q.Q6_K: (210, 256)}


def f16_bits(values):
    return np.asarray(values, dtype=np.float16).view(np.uint16)


def random_blocks(rng, qtype, rows, cols):
    """Random blocks of `qtype` for a [rows][cols] matrix, as uint8 bytes
    shaped [rows][row_bytes] (the GGUF byte layout)."""
    size, bs = BLOCK[qtype]
    nb = rows * cols // bs
    b = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    if qtype == Q.Q8_0:
        # d then 32 int8: |q| ~ 64 on average, weight ~ 64 * 3e-4 ~ 0.02.
        b[:, 0:2] = f16_bits(np.full(nb, 3e-4)).view(np.uint8).reshape(nb, 2)
    elif qtype == Q.Q4_K:
        # d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles:
        # w = d * sc * q - dmin * m, sc and m up to 63, q up to 15.
        b[:, 0:2] = f16_bits(np.full(nb, 4e-5)).view(np.uint8).reshape(nb, 2)
        b[:, 2:4] = f16_bits(np.full(nb, 1.2e-4)).view(np.uint8).reshape(nb, 2)
    elif qtype == Q.Q6_K:
        # ql, qh, 16 int8 scales, d: w = d * sc * (q - 32).
        b[:, 208:210] = f16_bits(np.full(nb, 1e-5)).view(np.uint8).reshape(nb, 2)
    return b.reshape(rows, cols // bs * size)


def more_bits(layer):
    """llama.cpp's use_more_bits(): layers whose attn_v / ffn_down get Q6_K
    in Q4_K_M files."""
    n = N_LAYER
    return layer < n // 8 or layer >= 7 * n // 8 or (layer - n // 8) % 3 == 2


def tensor_plan(kind):
    """(name, rows, cols, type) for every tensor; rows = output features."""
    def t(name, rows, cols, layer=None, role=None):
        if cols == 0:  # 1-D norm weight
            return (name, rows, 0, Q.F32)
        if kind == "f16":
            return (name, rows, cols, Q.F16)
        if kind == "q8_0":
            return (name, rows, cols, Q.Q8_0)
        # q4_k_m
        if name == "output.weight":
            return (name, rows, cols, Q.Q6_K)
        if role in ("attn_v", "ffn_down") and more_bits(layer):
            return (name, rows, cols, Q.Q6_K)
        return (name, rows, cols, Q.Q4_K)

    kv = N_HEAD_KV * HEAD_DIM
    plan = [t("token_embd.weight", N_VOCAB, N_EMBD)]
    for i in range(N_LAYER):
        p = f"blk.{i}."
        plan += [
            t(p + "attn_norm.weight", N_EMBD, 0),
            t(p + "attn_q.weight", N_EMBD, N_EMBD, i, "attn_q"),
            t(p + "attn_k.weight", kv, N_EMBD, i, "attn_k"),
            t(p + "attn_v.weight", kv, N_EMBD, i, "attn_v"),
            t(p + "attn_output.weight", N_EMBD, N_EMBD, i, "attn_output"),
            t(p + "ffn_norm.weight", N_EMBD, 0),
            t(p + "ffn_gate.weight", N_FF, N_EMBD, i, "ffn_gate"),
            t(p + "ffn_up.weight", N_FF, N_EMBD, i, "ffn_up"),
            t(p + "ffn_down.weight", N_EMBD, N_FF, i, "ffn_down"),
        ]
    plan += [t("output_norm.weight", N_EMBD, 0), t("output.weight", N_VOCAB, N_EMBD)]
    return plan


def tensor_data(rng, rows, cols, qtype):
    if qtype == Q.F32:
        return np.ones(rows, dtype=np.float32)  # norm weights
    if qtype == Q.F16:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)
    return random_blocks(rng, qtype, rows, cols)


def add_vocab(w):
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)  # byte
    i = 0
    while len(tokens) < N_VOCAB:
        tokens.append(f"\u2581tok{i}")
        scores.append(-float(i))
        types.append(1)  # normal
        i += 1
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)


def write(kind, path, seed):
    ftype = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
             "q4_k_m": gguf.LlamaFileType.MOSTLY_Q4_K_M}[kind]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"tinyllama-shaped random {kind}")
    w.add_file_type(ftype)
    w.add_context_length(8192)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    add_vocab(w)
    plan = tensor_plan(kind)
    for name, rows, cols, qtype in plan:
        if qtype == Q.F32:
            w.add_tensor_info(name, (rows,), np.dtype(np.float32), rows * 4)
        elif qtype == Q.F16:
            w.add_tensor_info(name, (rows, cols), np.dtype(np.float16), rows * cols * 2)
        else:
            size, bs = BLOCK[qtype]
            w.add_tensor_info(name, (rows, cols // bs * size), np.dtype(np.uint8),
                              rows * cols // bs * size, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    for name, rows, cols, qtype in plan:  # one tensor in memory at a time
        w.write_tensor_data(tensor_data(rng, rows, cols, qtype))
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--types", default="f16,q8_0,q4_k_m")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="rewrite existing files")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for kind in args.types.split(","):
        if kind not in ("f16", "q8_0", "q4_k_m"):
            sys.exit(f"make_tinyllama_gguf: unknown type '{kind}' (f16, q8_0, q4_k_m)")
        path = os.path.join(args.out, f"tinyllama-shaped-{kind}.gguf")
        if os.path.exists(path) and not args.force:
            print(f"{path}: exists (--force to rewrite)")
            continue
        write(kind, path, args.seed)
        print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
