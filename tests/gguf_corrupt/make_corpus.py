#!/usr/bin/env python3
"""Writes a corruption corpus for the GGUF reader (models/gguf.cc).

Usage: make_corpus.py OUTPUT_DIR

Writes a small valid GGUF file, a few valid variants and many corrupted ones
into OUTPUT_DIR, plus OUTPUT_DIR/manifest.txt with one line per file:

    filename <TAB> ok
    filename <TAB> error <TAB> substring [<TAB> substring ...]

For `error`, every substring must occur in the reader's message (which must
also name the file; the test checks that itself). The corruptions cover each
class of hostile input the reader must reject (bad magic and versions, absurd
counts, strings and arrays past the end, unknown types, nested arrays,
duplicates, bad alignment, bad dimensions, overflowing sizes, misaligned or
out-of-range tensor offsets), truncation at every field boundary, and random
byte flips with a fixed seed. For truncations and flips the expected outcome
comes from `reference_check`, a small re-implementation of the reader's rules,
so the corpus doubles as a differential test.

Standard library only (struct, os, random, sys).
"""

import os
import random
import struct
import sys

# GGUF metadata value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
              F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
INT_TYPES = {U8, I8, U16, I16, U32, I32, U64, I64}
SIGNED_TYPES = {I8, I16, I32, I64}

# GGML tensor types: number -> (name, block size, bytes per block), as in
# simd/ggml_types.cc (ggml-common.h).
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18),
    3: ("q4_1", 32, 20), 6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24),
    8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36), 10: ("q2_K", 256, 84),
    11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144), 13: ("q5_K", 256, 176),
    14: ("q6_K", 256, 210), 15: ("q8_K", 256, 292), 24: ("i8", 1, 1),
    25: ("i16", 1, 2), 26: ("i32", 1, 4), 27: ("i64", 1, 8),
    28: ("f64", 1, 8), 30: ("bf16", 1, 2),
}
T_F32, T_F16, T_Q8_0, T_Q4_K = 0, 1, 8, 12

INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


# ---------------------------------------------------------------- writer ----

class Builder:
    """Builds a GGUF file and records the offset of every field."""

    def __init__(self, version=3, alignment=32, magic=b"GGUF"):
        self.version = version
        self.alignment = alignment
        self.magic = magic
        self.kvs = []      # (key bytes, type number, encoded value)
        self.tensors = []  # dicts: name, shape, type, data, offset
        self.tensor_count = None  # header overrides
        self.kv_count = None

    def kv(self, key, vtype, value):
        self.kvs.append((key.encode() if isinstance(key, str) else key, vtype,
                         encode_value(vtype, value)))
        return self

    def raw_kv(self, key, vtype, raw):
        self.kvs.append((key.encode() if isinstance(key, str) else key, vtype, raw))
        return self

    def tensor(self, name, shape, ttype, data, offset=None):
        self.tensors.append(dict(name=name.encode() if isinstance(name, str) else name,
                                 shape=shape, type=ttype, data=data, offset=offset))
        return self

    def build(self):
        """Returns (bytes, fields): fields is a list of (offset, label)."""
        out = bytearray()
        fields = []

        def put(label, b):
            fields.append((len(out), label))
            out.extend(b)

        put("magic", self.magic)
        put("version", struct.pack("<I", self.version))
        n_tensors = len(self.tensors) if self.tensor_count is None else self.tensor_count
        n_kvs = len(self.kvs) if self.kv_count is None else self.kv_count
        put("tensor_count", struct.pack("<Q", n_tensors))
        put("kv_count", struct.pack("<Q", n_kvs))
        for key, vtype, raw in self.kvs:
            k = key.decode(errors="replace")
            put("kv %s key length" % k, struct.pack("<Q", len(key)))
            put("kv %s key" % k, key)
            put("kv %s type" % k, struct.pack("<I", vtype))
            base = len(out)
            put("kv %s value" % k, raw)
            for off, label in value_fields(vtype, raw):
                fields.append((base + off, "kv %s %s" % (k, label)))
        # Data layout first, so that the infos know their offsets.
        data = bytearray()
        offsets = []
        for t in self.tensors:
            off = t["offset"]
            if off is None:
                off = align(len(data), self.alignment)
            if t["data"]:
                if len(data) < off + len(t["data"]):
                    data.extend(b"\0" * (off + len(t["data"]) - len(data)))
                data[off:off + len(t["data"])] = t["data"]
            offsets.append(off)
        for t, off in zip(self.tensors, offsets):
            n = t["name"].decode(errors="replace")
            put("tensor %s name length" % n, struct.pack("<Q", len(t["name"])))
            put("tensor %s name" % n, t["name"])
            put("tensor %s n_dims" % n, struct.pack("<I", len(t["shape"])))
            for d, dim in enumerate(t["shape"]):
                put("tensor %s dim %d" % (n, d), struct.pack("<Q", dim))
            put("tensor %s type" % n, struct.pack("<I", t["type"]))
            put("tensor %s offset" % n, struct.pack("<Q", off))
        fields.append((len(out), "tensor infos end"))
        if self.tensors:
            pad = align(len(out), self.alignment) - len(out)
            if pad:
                put("padding", b"\0" * pad)
            data_offset = len(out)
            out.extend(data)
            for t, off in zip(self.tensors, offsets):
                if t["data"]:
                    fields.append((data_offset + off, "tensor %s data" %
                                   t["name"].decode(errors="replace")))
        return bytes(out), fields


def align(x, a):
    return (x + a - 1) // a * a


def encode_value(vtype, value):
    if vtype in SCALAR_FMT:
        return struct.pack(SCALAR_FMT[vtype], value)
    if vtype == STRING:
        b = value.encode() if isinstance(value, str) else value
        return struct.pack("<Q", len(b)) + b
    if vtype == ARRAY:
        elem, items = value
        return struct.pack("<IQ", elem, len(items)) + b"".join(
            encode_value(elem, x) for x in items)
    raise ValueError(vtype)


def value_fields(vtype, raw):
    """Offsets (within an encoded value) of its inner fields, for truncation."""
    if vtype == STRING:
        return [(8, "string bytes")]
    if vtype != ARRAY or len(raw) < 12:
        return []
    elem, n = struct.unpack_from("<IQ", raw, 0)
    fields = [(4, "array length"), (12, "array elements")]
    pos = 12
    for i in range(n):
        if elem == STRING:
            (length,) = struct.unpack_from("<Q", raw, pos)
            fields.append((pos, "string %d length" % i))
            fields.append((pos + 8, "string %d bytes" % i))
            pos += 8 + length
        elif elem in SCALAR_FMT:
            fields.append((pos, "element %d" % i))
            pos += struct.calcsize(SCALAR_FMT[elem])
    return fields


# ------------------------------------------------------- reference check ----

def printable(b, max_len=96):
    """Mirrors gguf_internal::Printable: names as the reader prints them."""
    out = []
    for c in b[:max_len]:
        if c < 0x20 or c >= 0x7F or c in (0x27, 0x5C):
            out.append("\\x%02x" % c)
        else:
            out.append(chr(c))
    s = "".join(out)
    return s + "..." if len(b) > max_len else s


class Reject(Exception):
    def __init__(self, *needles):
        super().__init__(needles)
        self.needles = list(needles)


def reference_check(data):
    """The reader's rules, in the reader's order. Returns None if `data` is a
    valid GGUF file, else the list of substrings its error must contain."""
    try:
        _reference_parse(data)
        return None
    except Reject as e:
        return e.needles


def _reference_parse(data):
    size = len(data)
    pos = 0

    def need(n, *needles):
        if n > size - pos:
            raise Reject("truncated", *needles)

    def u(fmt, *needles):
        nonlocal pos
        n = struct.calcsize(fmt)
        need(n, *needles)
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += n
        return v

    def string(*needles):
        nonlocal pos
        length = u("<Q", *needles)
        if length > size - pos:
            raise Reject("truncated or corrupt", "string length", *needles)
        s = data[pos:pos + length]
        pos += length
        return s

    if size < 4:
        raise Reject("truncated")
    if data[:4] != b"GGUF":
        raise Reject("bad magic")
    pos = 4
    version = u("<I", "version")
    if version not in (2, 3):
        raise Reject("unsupported GGUF version")
    tensor_count = u("<Q", "tensor_count")
    kv_count = u("<Q", "kv_count")
    rest = size - pos
    if kv_count > rest // 14:
        raise Reject("kv_count", "impossibly large", "truncated or corrupt")
    if tensor_count > (rest - kv_count * 14) // 33:
        raise Reject("tensor_count", "impossibly large", "truncated or corrupt")

    metadata = {}
    for i in range(kv_count):
        entry = "metadata entry %d of %d" % (i, kv_count)
        key = string(entry)
        if not key:
            raise Reject(entry, "empty key")
        kd = "metadata key '%s'" % printable(key)
        vtype = u("<I", kd)
        if vtype > 12:
            raise Reject(kd, "unknown value type %d" % vtype)
        if vtype in SCALAR_FMT:
            value = u(SCALAR_FMT[vtype], kd)
            if vtype == BOOL and value > 1:
                raise Reject(kd, "bool value %d" % value)
        elif vtype == STRING:
            value = string(kd)
        else:
            elem = u("<I", kd)
            if elem > 12:
                raise Reject(kd, "array of unknown value type %d" % elem)
            if elem == ARRAY:
                raise Reject(kd, "nested array")
            n = u("<Q", kd)
            esize = 8 if elem == STRING else struct.calcsize(SCALAR_FMT[elem])
            if n > (size - pos) // esize:
                raise Reject(kd, "array length %d" % n, "truncated or corrupt")
            for j in range(n):
                if elem == STRING:
                    length = u("<Q", kd, "string %d of %d" % (j, n))
                    if length > size - pos:
                        raise Reject(kd, "string %d of %d" % (j, n),
                                     "truncated or corrupt")
                    pos += length
                else:
                    x = u(SCALAR_FMT[elem], kd)
                    if elem == BOOL and x > 1:
                        raise Reject(kd, "bool array element %d" % j)
            value = None
        if key in metadata:
            raise Reject("duplicate " + kd)
        metadata[key] = (vtype, value)

    alignment = 32
    if b"general.alignment" in metadata:
        ad = "metadata key 'general.alignment'"
        vtype, value = metadata[b"general.alignment"]
        if vtype not in INT_TYPES:
            raise Reject(ad, "has type")
        if value < 0:
            raise Reject(ad, "expected a non-negative integer")
        if value == 0 or value & (value - 1):
            raise Reject(ad, "nonzero power of two")
        alignment = value

    tensors = []
    names = set()
    for i in range(tensor_count):
        info = "tensor info %d of %d" % (i, tensor_count)
        name = string(info)
        if not name:
            raise Reject(info, "empty name")
        td = "tensor '%s'" % printable(name)
        n_dims = u("<I", td)
        if n_dims == 0 or n_dims > 4:
            raise Reject(td, "%d dimensions" % n_dims)
        shape = []
        n_elements = 1
        for d in range(n_dims):
            dim = u("<Q", td)
            if dim == 0:
                raise Reject(td, "dimension %d equal to 0" % d)
            if dim > INT64_MAX:
                raise Reject(td, "negative as int64")
            shape.append(dim)
            n_elements *= dim
            if n_elements > INT64_MAX:
                raise Reject(td, "overflows int64")
        ttype = u("<I", td)
        if ttype not in GGML_TYPES:
            raise Reject(td, "unknown GGML type %d" % ttype)
        offset = u("<Q", td)
        if name in names:
            raise Reject("duplicate " + td)
        names.add(name)
        _, block, tsize = GGML_TYPES[ttype]
        if shape[0] % block:
            raise Reject(td, "block size %d" % block)
        row_bytes = shape[0] // block * tsize
        if row_bytes > INT64_MAX or row_bytes * (n_elements // shape[0]) > INT64_MAX:
            raise Reject(td, "overflows int64")
        if offset % alignment:
            raise Reject(td, "alignment %d" % alignment)
        tensors.append((td, offset, row_bytes * (n_elements // shape[0])))

    data_offset = align(pos, alignment)
    if data_offset > UINT64_MAX:
        raise Reject("data section")
    if not tensors:
        return
    if data_offset > size:
        raise Reject("truncated", "data section")
    for td, offset, nbytes in tensors:
        if data_offset + offset + nbytes > size:
            raise Reject(td, "extends past the end of the file",
                         "truncated file or corrupt offset")


# ---------------------------------------------------------------- corpus ----

def f32s(*xs):
    return struct.pack("<%df" % len(xs), *xs)


def base_builder(version=3, alignment=64, with_alignment_key=True,
                 with_tensors=True):
    """The valid small file every corruption starts from."""
    b = Builder(version=version, alignment=alignment)
    b.kv("general.architecture", STRING, "gemma3")
    if with_alignment_key:
        b.kv("general.alignment", U32, alignment)
    b.kv("general.name", STRING, "corpus")
    b.kv("gemma3.block_count", U32, 1)
    b.kv("gemma3.context_length", U64, 8192)
    b.kv("gemma3.attention.layer_norm_rms_epsilon", F32, 1e-6)
    b.kv("gemma3.rope.freq_base", F64, 10000.0)
    b.kv("test.u8", U8, 200)
    b.kv("test.i8", I8, -100)
    b.kv("test.u16", U16, 60000)
    b.kv("test.i16", I16, -30000)
    b.kv("test.i32", I32, -7)
    b.kv("test.i64", I64, -(2**40))
    b.kv("tokenizer.ggml.add_bos_token", BOOL, 1)
    b.kv("tokenizer.ggml.model", STRING, "llama")
    b.kv("tokenizer.ggml.tokens", ARRAY, (STRING, ["<pad>", "<eos>", "<bos>", "hello", "\u2581world", ""]))
    b.kv("tokenizer.ggml.scores", ARRAY, (F32, [0.0, 0.0, 0.0, -1.5, -2.25, -3.0]))
    b.kv("tokenizer.ggml.token_type", ARRAY, (I32, [3, 3, 3, 1, 1, 1]))
    b.kv("test.bools", ARRAY, (BOOL, [1, 0, 1]))
    b.kv("test.u8s", ARRAY, (U8, [1, 2, 3]))
    b.kv("test.empty", ARRAY, (U64, []))
    if with_tensors:
        b.tensor("token_embd.weight", [8, 6], T_F32, f32s(*range(48)))
        b.tensor("blk.0.attn_q.weight", [32, 2], T_Q8_0, bytes(range(68)))
        b.tensor("blk.0.ffn_down.weight", [256, 1], T_Q4_K, bytes(144))
        b.tensor("output_norm.weight", [8], T_F32, f32s(*[1.0] * 8))
    return b


def field_offset(fields, label):
    for off, lab in fields:
        if lab == label:
            return off
    raise KeyError(label)


def patch(data, offset, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUTPUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    entries = []  # (filename, needles or None)

    def emit(name, data, expect):
        """expect: None (valid) or the list of substrings of the error."""
        ref = reference_check(data)
        if (ref is None) != (expect is None):
            sys.exit("make_corpus.py: %s: reference check says %r, expected %r"
                     % (name, ref, expect))
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        entries.append((name, expect))

    valid, fields = base_builder().build()
    F = lambda label: field_offset(fields, label)

    # Valid files.
    emit("valid.gguf", valid, None)
    emit("valid_v2.gguf", base_builder(version=2).build()[0], None)
    emit("valid_default_alignment.gguf",
         base_builder(alignment=32, with_alignment_key=False).build()[0], None)
    emit("valid_alignment_1.gguf", base_builder(alignment=1).build()[0], None)
    emit("valid_no_tensors.gguf", base_builder(with_tensors=False).build()[0], None)
    emit("valid_trailing_bytes.gguf", valid + b"trailing garbage", None)
    emit("valid_overlapping_tensors.gguf",
         patch(valid, F("tensor output_norm.weight offset"), "<Q", 0), None)
    data_byte = F("tensor blk.0.attn_q.weight data") + 5
    emit("valid_data_byte_flipped.gguf",
         valid[:data_byte] + bytes([valid[data_byte] ^ 0xFF]) + valid[data_byte + 1:], None)

    # Header.
    emit("bad_magic.gguf", b"GGJT" + valid[4:], ["bad magic 'GGJT'"])
    emit("bad_magic_binary.gguf", b"\0\x01\x02\x03" + valid[4:], ["bad magic"])
    emit("empty.gguf", b"", ["truncated", "0 bytes"])
    emit("three_bytes.gguf", b"GGU", ["truncated", "3 bytes"])
    emit("version_1.gguf", patch(valid, 4, "<I", 1), ["unsupported GGUF version 1"])
    emit("version_0.gguf", patch(valid, 4, "<I", 0), ["unsupported GGUF version 0"])
    emit("version_4.gguf", patch(valid, 4, "<I", 4), ["unsupported GGUF version 4"])
    emit("version_big_endian.gguf", patch(valid, 4, ">I", 3), ["big-endian"])
    emit("kv_count_huge.gguf", patch(valid, F("kv_count"), "<Q", UINT64_MAX),
         ["kv_count 18446744073709551615", "impossibly large"])
    emit("kv_count_2e9.gguf", patch(valid, F("kv_count"), "<Q", 2_000_000_000),
         ["kv_count 2000000000"])
    emit("tensor_count_huge.gguf", patch(valid, F("tensor_count"), "<Q", 2**62),
         ["tensor_count 4611686018427387904", "impossibly large"])
    emit("tensor_count_plus_one.gguf",
         patch(valid, F("tensor_count"), "<Q", 5), ["tensor info 4 of 5"])

    # Metadata.
    emit("key_length_huge.gguf",
         patch(valid, F("kv general.architecture key length"), "<Q", 2**63),
         ["metadata entry 0 of", "string length 9223372036854775808"])
    emit("key_length_past_end.gguf",
         patch(valid, F("kv general.name key length"), "<Q", len(valid)),
         ["metadata entry 2 of", "truncated or corrupt"])
    emit("empty_key.gguf", patch(valid, F("kv general.name key length"), "<Q", 0),
         ["metadata entry 2 of", "empty key"])
    emit("string_value_past_end.gguf",
         patch(valid, F("kv general.name value"), "<Q", 1 << 40),
         ["metadata key 'general.name'", "string length 1099511627776"])
    emit("unknown_value_type.gguf", patch(valid, F("kv general.name type"), "<I", 13),
         ["metadata key 'general.name' has unknown value type 13"])
    emit("unknown_value_type_huge.gguf",
         patch(valid, F("kv test.u8 type"), "<I", 0xFFFFFFFF),
         ["metadata key 'test.u8' has unknown value type 4294967295"])
    emit("array_length_huge.gguf",
         patch(valid, F("kv tokenizer.ggml.tokens array length"), "<Q", 2**62),
         ["metadata key 'tokenizer.ggml.tokens'", "array length 4611686018427387904"])
    emit("array_length_u64_huge.gguf",
         patch(valid, F("kv test.empty array length"), "<Q", 2**40),
         ["metadata key 'test.empty'", "array length 1099511627776"])
    emit("array_string_past_end.gguf",
         patch(valid, F("kv tokenizer.ggml.tokens string 3 length"), "<Q", 2**50),
         ["metadata key 'tokenizer.ggml.tokens'", "string 3 of 6", "past the end"])
    emit("array_unknown_element_type.gguf",
         patch(valid, F("kv test.u8s value"), "<I", 77),
         ["metadata key 'test.u8s' is an array of unknown value type 77"])
    emit("nested_array.gguf", patch(valid, F("kv test.u8s value"), "<I", ARRAY),
         ["metadata key 'test.u8s' is a nested array"])
    emit("bool_value_2.gguf",
         patch(valid, F("kv tokenizer.ggml.add_bos_token value"), "<B", 2),
         ["metadata key 'tokenizer.ggml.add_bos_token' has bool value 2"])
    emit("bool_array_value_9.gguf",
         patch(valid, F("kv test.bools element 2"), "<B", 9),
         ["metadata key 'test.bools': bool array element 2 has value 9"])
    dup = base_builder()
    dup.kv("gemma3.block_count", U32, 2)
    emit("duplicate_key.gguf", dup.build()[0],
         ["duplicate metadata key 'gemma3.block_count'"])
    weird = base_builder()
    weird.kv(b"bad\nkey\xff", U8, 1)
    weird.kv(b"bad\nkey\xff", U8, 2)
    emit("duplicate_key_nonprintable.gguf", weird.build()[0],
         ["duplicate metadata key 'bad\\x0akey\\xff'"])

    # Alignment.
    for value, name in ((0, "zero"), (48, "48"), (2**31 + 1, "odd")):
        emit("alignment_%s.gguf" % name,
             patch(valid, F("kv general.alignment value"), "<I", value),
             ["metadata key 'general.alignment' is %d" % value, "nonzero power of two"])
    emit("alignment_string.gguf",
         patch(valid, F("kv general.alignment type"), "<I", F32),
         ["metadata key 'general.alignment' has type float32"])
    emit("alignment_huge.gguf",
         patch(valid, F("kv general.alignment value"), "<I", 2**31),
         ["tensor 'blk.0.attn_q.weight'", "not a multiple of the alignment 2147483648"])

    # Tensor infos.
    emit("tensor_name_huge.gguf",
         patch(valid, F("tensor blk.0.attn_q.weight name length"), "<Q", UINT64_MAX),
         ["tensor info 1 of 4", "string length 18446744073709551615"])
    emit("tensor_name_empty.gguf",
         patch(valid, F("tensor blk.0.attn_q.weight name length"), "<Q", 0),
         ["tensor info 1 of 4 has an empty name"])
    emit("n_dims_0.gguf", patch(valid, F("tensor output_norm.weight n_dims"), "<I", 0),
         ["tensor 'output_norm.weight' has 0 dimensions"])
    emit("n_dims_5.gguf", patch(valid, F("tensor output_norm.weight n_dims"), "<I", 5),
         ["tensor 'output_norm.weight' has 5 dimensions"])
    emit("n_dims_huge.gguf",
         patch(valid, F("tensor token_embd.weight n_dims"), "<I", 0xFFFFFFFF),
         ["tensor 'token_embd.weight' has 4294967295 dimensions"])
    emit("dim_zero.gguf", patch(valid, F("tensor token_embd.weight dim 1"), "<Q", 0),
         ["tensor 'token_embd.weight' has dimension 1 equal to 0"])
    emit("dim_negative.gguf",
         patch(valid, F("tensor token_embd.weight dim 0"), "<q", -8),
         ["tensor 'token_embd.weight' has dimension 0", "negative as int64"])
    overflow = patch(valid, F("tensor token_embd.weight dim 0"), "<Q", 2**32)
    overflow = patch(overflow, F("tensor token_embd.weight dim 1"), "<Q", 2**32)
    emit("elements_overflow.gguf", overflow,
         ["tensor 'token_embd.weight'", "element count", "overflows int64"])
    emit("bytes_overflow.gguf",
         patch(patch(valid, F("tensor token_embd.weight dim 0"), "<Q", 2**61),
               F("tensor token_embd.weight dim 1"), "<Q", 2),
         ["tensor 'token_embd.weight'", "byte size", "overflows int64"])
    emit("unknown_tensor_type.gguf",
         patch(valid, F("tensor blk.0.attn_q.weight type"), "<I", 99),
         ["tensor 'blk.0.attn_q.weight' has unknown GGML type 99"])
    emit("removed_tensor_type_4.gguf",
         patch(valid, F("tensor blk.0.attn_q.weight type"), "<I", 4),
         ["tensor 'blk.0.attn_q.weight' has unknown GGML type 4"])
    emit("block_size_mismatch.gguf",
         patch(valid, F("tensor blk.0.attn_q.weight dim 0"), "<Q", 40),
         ["tensor 'blk.0.attn_q.weight'", "shape[0] = 40",
          "not a multiple of the block size 32"])
    emit("misaligned_offset.gguf",
         patch(valid, F("tensor output_norm.weight offset"), "<Q", 32),
         ["tensor 'output_norm.weight'", "not a multiple of the alignment 64"])
    emit("offset_past_end.gguf",
         patch(valid, F("tensor output_norm.weight offset"), "<Q", 1 << 40),
         ["tensor 'output_norm.weight'", "extends past the end of the file"])
    emit("offset_wraps.gguf",
         patch(valid, F("tensor output_norm.weight offset"), "<Q", 2**64 - 64),
         ["tensor 'output_norm.weight'", "extends past the end of the file"])
    emit("type_grows_past_end.gguf",
         patch(valid, F("tensor output_norm.weight type"), "<I", 28),  # f64
         ["tensor 'output_norm.weight' (f64 [8], 64 bytes",
          "extends past the end of the file"])
    emit("dim_grows_past_end.gguf",
         patch(valid, F("tensor token_embd.weight dim 1"), "<Q", 1 << 30),
         ["tensor 'token_embd.weight'", "extends past the end of the file"])
    dup_t = base_builder()
    dup_t.tensor("token_embd.weight", [8], T_F32, f32s(*[0.0] * 8))
    emit("duplicate_tensor.gguf", dup_t.build()[0],
         ["duplicate tensor 'token_embd.weight'"])

    # Data section.
    emit("data_missing_last_byte.gguf", valid[:-1],
         ["truncated", "tensor 'output_norm.weight'", "extends past the end"])
    infos_end = F("tensor infos end")
    assert align(infos_end, 64) > infos_end, "the base file needs padding"
    emit("data_section_missing.gguf", valid[:infos_end],
         ["truncated", "data section"])

    # Truncation at every field boundary (and one byte into each field).
    cuts = set()
    for off, _ in fields:
        cuts.add(off)
        cuts.add(off + 1)
    cuts = sorted(c for c in cuts if c < len(valid))
    for c in cuts:
        needles = reference_check(valid[:c])
        if needles is None or "truncated" not in " ".join(needles):
            sys.exit("make_corpus.py: truncation at %d: reference check says %r"
                     % (c, needles))
        emit("truncated_at_%05d.gguf" % c, valid[:c], needles)

    # Random byte flips with a fixed seed; the reference check decides the
    # expected outcome (most flips in the header are errors).
    rng = random.Random(20240611)
    header_end = F("tensor infos end")
    n_flip_ok = n_flip_err = 0
    for i in range(60):
        b = bytearray(valid)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(header_end) if rng.random() < 0.9 else rng.randrange(len(b))
            kind = rng.randrange(3)
            if kind == 0:
                b[pos] ^= 1 << rng.randrange(8)
            elif kind == 1:
                b[pos] = rng.randrange(256)
            else:
                b[pos] = 0xFF
        b = bytes(b)
        needles = reference_check(b)
        emit("flip_%02d.gguf" % i, b, needles)
        if needles is None:
            n_flip_ok += 1
        else:
            n_flip_err += 1

    with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
        f.write("# filename<TAB>ok | filename<TAB>error<TAB>substring...\n")
        for name, needles in entries:
            if needles is None:
                f.write("%s\tok\n" % name)
            else:
                f.write("%s\terror\t%s\n" % (name, "\t".join(needles)))
    n_err = sum(1 for _, n in entries if n is not None)
    print("make_corpus.py: wrote %d files (%d ok, %d errors; flips: %d ok, %d "
          "errors) to %s" % (len(entries), len(entries) - n_err, n_err,
                             n_flip_ok, n_flip_err, out_dir))


if __name__ == "__main__":
    main()
