#!/usr/bin/env python3
"""Compares StructKV's tokenizer with llama.cpp's on a large multilingual text.

Tokenizes the same bytes with llama-cpp-python (vocab only, BOS per the
model's metadata, special tokens not parsed) and with
`structkv tokenize -m MODEL -f FILE`, and fails on the first mismatch, showing
the tokens and text around it.

The text is generated deterministically (seeded) below: English prose, code
with indentation and tabs, emoji, CJK, Arabic, Cyrillic, Greek, long
whitespace runs, numbers and mixed punctuation; about 40 KB.

Run with the project's venv:
  .venv/bin/python tests/model/compare_tokenizer.py --structkv build/tools/structkv \
      [--model models-cache/gemma-3-270m-q4_k_m.gguf] [--model other.gguf ...]
Exit status: 0 all equal, 1 mismatch, 2 setup problem (missing binary/model).
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MODEL = os.path.join(ROOT, "models-cache", "gemma-3-270m-q4_k_m.gguf")

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times; it was the age of wisdom.",
    "Don't panic: we'll re-run it, they've said, and you're sure it's fine?",
    "Dr. Smith's results (p < 0.05) weren't significant -- or were they?!",
    "E-mail me at someone@example.com, or visit https://example.org/path?q=1&r=2#frag.",
    "She said: \"Hello...\" and left; he replied 'OK'.",
    "Prices rose 3.5% to $1,234.56 (approx. EUR 1.100,00) in Q3 2024.",
]
MULTI = [
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства.",
    "敏捷的棕色狐狸跳过了懒狗。我想在苹果公司工作，天气很好！",
    "日本語のテキスト：東京は大きな都市です。カタカナとひらがな。",
    "한국어 문장입니다. 빠른 갈색 여우가 게으른 개를 뛰어넘습니다.",
    "صِف خَلقَ خَودِ كَمِثلِ الشَمسِ إِذ بَزَغَت يَحظى الضَجيعُ بِها نَجلاءَ مِعطارِ",
    "مرحبا بالعالم! هذا نص عربي مع أرقام ١٢٣٤٥ و 67890.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Γειά σου Κόσμε!",
    "Grüße aus Köln: Äpfel, Öl und Übermut — ça va? Façade, naïve, coöperate.",
    "Tiếng Việt: Cửa Việt, Hà Nội, Thành phố Hồ Chí Minh.",
    "हिन्दी में एक वाक्य। ภาษาไทยก็มี ကမ္ဘာ ስላም",
    "Emoji: 🚀 (normal) 😶‍🌫️ (zwj) ✅ 👍🏽 🇫🇷 🤖💬 ❤️‍🔥 1️⃣",
]
CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "int main(int argc, char** argv) {\n\tfor (int i = 0; i < argc; ++i) {\n\t\tprintf(\"%s\\n\", argv[i]);\n\t}\n\treturn 0;\n}\n",
    "    if (x != y && y >= 0) { z = x << 2 | y >> 1; } // comment\n",
    "SELECT id, name FROM users WHERE age > 30 ORDER BY name DESC;\n",
    "<div class=\"main\"><p>Hello&nbsp;world</p></div>\n",
    "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\"}}\n",
    "fn main() {\n    let v: Vec<i32> = (0..10).map(|x| x * x).collect();\n}\n",
]
NUMBERS = ["3", "33", "333", "3333", "33333", "1234567890", "3.14159265", "1e-9",
           "0x1F", "2024-01-31", "12:34:56", "١٢٣", "½", "⅔"]
PUNCT = ["!!!", "???", "...", "—", "–", "«»", "“”", "‘’", "()", "[]", "{}", "<>",
         "@#$%^&*", "~`|\\", ";:", ",.", "'s", "'ll", "'VE", "' era"]
WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", " \n", "\t\n",
              "\r\n", " " * 17, "\t" * 9, "\n" * 12, " \u00a0 ", "\u3000", "\u2003"]


def generate_text(min_bytes=40000, seed=20240611):
    """Deterministic mixed text; ends without a newline so that any reading
    convention of the file gives the same string."""
    rnd = random.Random(seed)
    parts = []
    size = 0
    kinds = [PROSE, MULTI, CODE, NUMBERS, PUNCT, WHITESPACE]
    weights = [4, 4, 2, 1, 1, 2]
    while size < min_bytes:
        pool = rnd.choices(kinds, weights)[0]
        s = rnd.choice(pool)
        if pool is PROSE and rnd.random() < 0.3:
            s = s.upper() if rnd.random() < 0.5 else s.lower()
        parts.append(s)
        parts.append(rnd.choice([" ", " ", "", "\n", "  ", "\t"]))
        size += len(s.encode("utf-8")) + 1
    # Long whitespace runs, explicitly.
    parts.append(" " * 300 + "end of spaces" + "\t" * 64 + "tabs" + "\n" * 40 + "lines")
    return "".join(parts).rstrip() + " done."


def llama_cpp_ids(model, data):
    import llama_cpp  # imported here so --help works without it
    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    return llm, llm.tokenize(data, add_bos=True, special=False)


def structkv_ids(binary, model, path):
    proc = subprocess.run([binary, "tokenize", "-m", model, "-f", path],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} tokenize failed ({proc.returncode}):\n{proc.stderr}")
    return [int(x) for x in proc.stdout.split()]


def piece(llm, tok):
    try:
        return llm.detokenize([tok], special=True).decode("utf-8", "backslashreplace")
    except TypeError:  # older bindings have no `special`
        return llm.detokenize([tok]).decode("utf-8", "backslashreplace")


def compare(llm, want, got):
    """Returns an error description, or None when equal."""
    n = min(len(want), len(got))
    first = next((i for i in range(n) if want[i] != got[i]), None)
    if first is None:
        if len(want) == len(got):
            return None
        first = n
    lo = max(0, first - 8)
    prefix = llm.detokenize(want[:first]).decode("utf-8", "backslashreplace")
    lines = [f"first mismatch at token {first} (llama.cpp {len(want)} tokens, "
             f"structkv {len(got)}); text offset ~{len(prefix.encode('utf-8'))} bytes",
             f"text before: {prefix[-80:]!r}"]
    for name, ids in (("llama.cpp", want), ("structkv ", got)):
        window = ids[lo:first + 8]
        lines.append(f"{name}: " + " ".join(
            ("*" if lo + k == first else "") + f"{t}:{piece(llm, t)!r}"
            for k, t in enumerate(window)))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--structkv", required=True, help="path to the structkv binary")
    ap.add_argument("--model", action="append",
                    help=f"GGUF model or vocab file (repeatable; default {DEFAULT_MODEL})")
    ap.add_argument("--text", help="use this UTF-8 file instead of the generated text")
    ap.add_argument("--min-bytes", type=int, default=40000)
    args = ap.parse_args()

    models = args.model or [DEFAULT_MODEL]
    if not os.access(args.structkv, os.X_OK):
        print(f"error: {args.structkv} is not an executable", file=sys.stderr)
        return 2
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        print(f"error: llama_cpp is not importable ({e})", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="skv_tok_") as tmp:
        if args.text:
            path = args.text
            with open(path, "rb") as f:
                data = f.read()
        else:
            data = generate_text(args.min_bytes).encode("utf-8")
            path = os.path.join(tmp, "multilingual.txt")
            with open(path, "wb") as f:
                f.write(data)
        failed = False
        for model in models:
            if not os.path.exists(model):
                print(f"error: model {model} does not exist", file=sys.stderr)
                return 2
            llm, want = llama_cpp_ids(model, data)
            got = structkv_ids(args.structkv, model, path)
            err = compare(llm, want, got)
            name = os.path.basename(model)
            if err:
                failed = True
                print(f"FAIL {name} ({len(data)} bytes)\n{err}")
            else:
                print(f"OK   {name}: {len(want)} tokens over {len(data)} bytes match")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
