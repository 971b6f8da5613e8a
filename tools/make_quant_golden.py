#!/usr/bin/env python3
"""Writes the golden files for simd/quant_test.cc under tests/golden/quant/.

Run with the project venv (gguf-py provides the reference quantisers and
dequantisers, independent of our C++ code):

    /work/main/.venv/bin/python tools/make_quant_golden.py

Each <type>.bin is little-endian:
    char magic[4] = "SKVQ"; u32 version = 1; u32 ggml_type; u32 rows; u32 n;
    u32 row_bytes; u32 has_source;
    f32 source[rows][n]        (only when has_source: the f32 input that was
                                quantised, used to check F32ToF16/F32ToBF16)
    u8  raw[rows][row_bytes]   (the GGML blocks)
    f32 expected[rows][n]      (gguf.quants.dequantize(raw))
"""
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "quant")
SEED = 20240611
ROWS = 4
N = 768  # a multiple of 256 (K-quant blocks) and of 32

# Types gguf-py can quantise: real quantisation of random f32 rows.
QUANTISABLE = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
# K-quants: gguf-py only dequantises, so the blocks are random bytes with the
# fp16 scale fields (byte offsets below) overwritten by sane finite values.
K_SCALE_FIELDS = {
    Q.Q2_K: [(80, "d"), (82, "dmin")],
    Q.Q3_K: [(108, "d")],
    Q.Q4_K: [(0, "d"), (2, "dmin")],
    Q.Q5_K: [(0, "d"), (2, "dmin")],
    Q.Q6_K: [(208, "d")],
}


def write(path, qtype, raw, expected, source=None):
    rows, n = expected.shape
    header = b"SKVQ" + struct.pack("<6I", 1, int(qtype), rows, n, raw.shape[1],
                                   0 if source is None else 1)
    with open(path, "wb") as f:
        f.write(header)
        if source is not None:
            f.write(np.ascontiguousarray(source, dtype="<f4").tobytes())
        f.write(np.ascontiguousarray(raw, dtype=np.uint8).tobytes())
        f.write(np.ascontiguousarray(expected, dtype="<f4").tobytes())


def random_rows(rng, rows, n):
    # Rows with different scales, one all-zero row (d = 0 blocks) and one with
    # outliers so that blocks see very different ranges.
    x = rng.standard_normal((rows, n)).astype(np.float32)
    x *= np.float32(10.0) ** rng.uniform(-3, 1, size=(rows, 1)).astype(np.float32)
    x[1] = 0.0
    x[2, ::37] *= 100.0
    return x


def special_floats():
    f = np.float32
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0,
            65504.0, 65519.99, 65520.0, -65520.0, 1e10, -1e-10,
            2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26,
            1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8,
            np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45,
            6.0e-8, -5.9e-8, 3.0e-5, 0.1, 1.0 / 3.0]
    return np.array(vals, dtype=f)


def main():
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0

    # 16-bit floats: random values across many binades plus edge cases.
    for qtype in (Q.F16, Q.BF16):
        src = (rng.standard_normal((2, 512)) *
               10.0 ** rng.uniform(-9, 5, size=(2, 512))).astype(np.float32)
        sp = special_floats()
        src[0, :len(sp)] = sp
        src[1, :len(sp)] = -sp
        raw = gguf.quants.quantize(src, qtype).view(np.uint8).reshape(2, -1)
        exp = gguf.quants.dequantize(raw, qtype).reshape(2, 512)
        path = os.path.join(OUT_DIR, qtype.name.lower() + ".bin")
        write(path, qtype, raw, exp, source=src)
        total += os.path.getsize(path)

    for qtype in QUANTISABLE:
        src = random_rows(rng, ROWS, N)
        raw = gguf.quants.quantize(src, qtype)
        exp = gguf.quants.dequantize(raw, qtype).reshape(ROWS, N)
        path = os.path.join(OUT_DIR, qtype.name.lower() + ".bin")
        write(path, qtype, raw, exp)
        total += os.path.getsize(path)

    for qtype, fields in K_SCALE_FIELDS.items():
        block, size = GGML_QUANT_SIZES[qtype]
        nb = ROWS * N // block
        raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
        for i in range(nb):
            for off, kind in fields:
                if kind == "d":
                    v = rng.uniform(1e-4, 5e-2) * rng.choice([-1.0, 1.0])
                else:
                    v = rng.uniform(0.0, 2e-2)
                raw[i, off:off + 2] = np.array([v], dtype=np.float16).view(np.uint8)
        # One block with a subnormal fp16 scale.
        off0 = fields[0][0]
        raw[0, off0:off0 + 2] = np.array([3e-6], dtype=np.float16).view(np.uint8)
        raw = raw.reshape(ROWS, -1)
        exp = gguf.quants.dequantize(raw, qtype).reshape(ROWS, N)
        assert np.all(np.isfinite(exp))
        path = os.path.join(OUT_DIR, qtype.name.lower() + ".bin")
        write(path, qtype, raw, exp)
        total += os.path.getsize(path)

    print(f"wrote {total} bytes to {os.path.normpath(OUT_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
