#!/usr/bin/env python3
"""Writes random-weight GGUF fixture models in real architectures' shapes.

The weights are random but scaled so that the next-token distributions are
peaked (a wrong kernel changes the argmax, so the correctness tests can fail).
Tokenizers are copied from the vocab-only GGUF files in tests/data/tokenizer
so that llama.cpp (the reference) can load the same files.

Usage: make_fixtures.py --out DIR [--vocab-dir tests/data/tokenizer]
Writes DIR/llama-fixture.gguf, DIR/llama-yarn-fixture.gguf and
DIR/qwen2-fixture.gguf (deterministic).
"""
import argparse
import os
import sys
import zlib

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

# Tokenizer keys copied from a vocab file into a fixture.
TOKENIZER_KEYS = [
    "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
    "tokenizer.ggml.add_space_prefix",
]


def copy_tokenizer(writer, vocab_path):
    reader = gguf.GGUFReader(vocab_path)
    n_vocab = 0
    for key in TOKENIZER_KEYS:
        field = reader.fields.get(key)
        if field is None:
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8", errors="surrogateescape")
                         for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            if key == "tokenizer.ggml.tokens":
                n_vocab = len(value)
            writer.add_key_value(key, value, vtype, sub_type=sub)
        else:
            writer.add_key_value(key, field.contents(), vtype)
    return n_vocab


def add_matrix(writer, rng, name, rows, cols, std, qtype):
    """A [rows][cols] weight (ggml shape [cols, rows]) stored as qtype."""
    data = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
    if qtype == Q.F32:
        writer.add_tensor(name, data)
    elif qtype == Q.F16:
        writer.add_tensor(name, data.astype(np.float16))
    else:
        writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)


def add_vector(writer, rng, name, n, mean, std):
    writer.add_tensor(name, (mean + rng.standard_normal(n) * std).astype(np.float32))


def write_model(path, arch, vocab_path, cfg, seed):
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(f"{arch} random fixture")
    n_vocab = copy_tokenizer(writer, vocab_path)
    e, h, kv, hd, ff, L = (cfg[k] for k in ("n_embd", "n_head", "n_kv", "head_dim", "n_ff", "n_layer"))
    writer.add_context_length(cfg["n_ctx"])
    writer.add_embedding_length(e)
    writer.add_block_count(L)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(h)
    writer.add_head_count_kv(kv)
    writer.add_rope_freq_base(cfg["rope_base"])
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(hd)
    if cfg.get("yarn"):
        factor, orig = cfg["yarn"]
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(factor)
        writer.add_rope_scaling_orig_ctx_len(orig)
    writer.add_file_type(1)
    qt = cfg["qtypes"]
    # Embedding rows of unit scale; hidden projections ~1/sqrt(fan_in) so
    # activations stay O(1); the output head is scaled up to make the
    # distribution peaked.
    # Tied heads reuse the embeddings as output rows: a smaller scale keeps
    # the logits peaked without collapsing onto the current token.
    add_matrix(writer, rng, "token_embd.weight", n_vocab, e, cfg.get("embd_std", 1.0), qt["embd"])
    add_vector(writer, rng, "output_norm.weight", e, 1.0, 0.1)
    if not cfg.get("tied", False):
        add_matrix(writer, rng, "output.weight", n_vocab, e, 4.0 / np.sqrt(e), qt["out"])
    if cfg.get("rope_freqs"):
        # llama3-style per-frequency divisors: long wavelengths slowed down.
        i = np.arange(hd // 2, dtype=np.float32)
        factors = np.where(i < hd // 4, 1.0, 1.0 + 7.0 * (i - hd // 4) / (hd // 4)).astype(np.float32)
        writer.add_tensor("rope_freqs.weight", factors)
    for l in range(L):
        p = f"blk.{l}."
        add_vector(writer, rng, p + "attn_norm.weight", e, 1.0, 0.1)
        add_matrix(writer, rng, p + "attn_q.weight", h * hd, e, 2.0 / np.sqrt(e), qt["attn"])
        add_matrix(writer, rng, p + "attn_k.weight", kv * hd, e, 2.0 / np.sqrt(e), qt["attn"])
        add_matrix(writer, rng, p + "attn_v.weight", kv * hd, e, 1.0 / np.sqrt(e), qt["attn"])
        if cfg.get("qkv_bias"):
            add_vector(writer, rng, p + "attn_q.bias", h * hd, 0.0, 0.5)
            add_vector(writer, rng, p + "attn_k.bias", kv * hd, 0.0, 0.5)
            add_vector(writer, rng, p + "attn_v.bias", kv * hd, 0.0, 0.5)
        add_matrix(writer, rng, p + "attn_output.weight", e, h * hd, 1.0 / np.sqrt(h * hd), qt["attn"])
        add_vector(writer, rng, p + "ffn_norm.weight", e, 1.0, 0.1)
        add_matrix(writer, rng, p + "ffn_gate.weight", ff, e, 1.0 / np.sqrt(e), qt["ffn"])
        add_matrix(writer, rng, p + "ffn_up.weight", ff, e, 1.0 / np.sqrt(e), qt["ffn"])
        add_matrix(writer, rng, p + "ffn_down.weight", e, ff, 1.0 / np.sqrt(ff), qt["ffn_down"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


FIXTURES = {
    # TinyLlama-like block structure (GQA 4:1), SentencePiece vocab,
    # llama3-style rope_freqs, Q8_0 / Q4_0 / Q5_1 / F16 weights.
    "llama-fixture.gguf": ("llama", "ggml-vocab-llama-spm.gguf", dict(
        n_embd=256, n_head=8, n_kv=2, head_dim=32, n_ff=512, n_layer=4,
        n_ctx=4096, rope_base=500000.0, rope_freqs=True,
        qtypes=dict(embd=Q.F16, out=Q.Q8_0, attn=Q.Q8_0, ffn=Q.Q4_0, ffn_down=Q.Q5_1))),
    # SmolLM / Llama 3.2-like: tied embeddings, YaRN rope scaling from
    # metadata, byte-level BPE vocab, Q8_0 / Q5_0 / Q4_0 weights.
    "llama-yarn-fixture.gguf": ("llama", "ggml-vocab-gpt-2.gguf", dict(
        n_embd=128, n_head=4, n_kv=1, head_dim=32, n_ff=384, n_layer=3,
        n_ctx=8192, rope_base=10000.0, tied=True, yarn=(4.0, 256), embd_std=0.3,
        qtypes=dict(embd=Q.Q8_0, out=Q.Q8_0, attn=Q.Q5_0, ffn=Q.Q4_0, ffn_down=Q.Q8_0))),
    # Qwen2-like: QKV bias, separate output head, byte-level BPE vocab,
    # Q5_0 / Q4_1 / Q8_0 / F32 weights.
    "qwen2-fixture.gguf": ("qwen2", "ggml-vocab-gpt-2.gguf", dict(
        n_embd=192, n_head=6, n_kv=2, head_dim=32, n_ff=384, n_layer=3,
        n_ctx=4096, rope_base=1000000.0, qkv_bias=True,
        qtypes=dict(embd=Q.Q8_0, out=Q.Q8_0, attn=Q.Q5_0, ffn=Q.Q4_1, ffn_down=Q.F32))),
}


def with_f32_weights(fixture):
    """The same architecture, vocab and shapes with every weight in F32."""
    arch, vocab, cfg = fixture
    return arch, vocab, dict(cfg, qtypes={k: Q.F32 for k in cfg["qtypes"]})


# The llama and qwen2 fixtures' shapes with every weight in F32: llama.cpp
# rounds no activation before an F32 matmul, so these files isolate the
# arithmetic (RoPE, attention, norms, f16 KV cache) from activation
# quantisation and are held to the literal targets
# (docs/correctness.md).
for _name in ("llama", "qwen2"):
    FIXTURES[f"{_name}-f32-fixture.gguf"] = with_f32_weights(FIXTURES[f"{_name}-fixture.gguf"])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-dir", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "tests", "data", "tokenizer"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    vocab_dir = args.vocab_dir
    for name, (arch, vocab, cfg) in sorted(FIXTURES.items()):
        path = os.path.join(args.out, name)
        # Seeded by name: adding a fixture never changes the others.
        write_model(path, arch, os.path.join(vocab_dir, vocab), cfg, zlib.crc32(name.encode()))
        print(path)


if __name__ == "__main__":
    sys.exit(main())
