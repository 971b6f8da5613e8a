#include "runtime/eval_text.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace skv {

uint64_t EvalRng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t EvalRng::Uniform(int64_t n) {
  // Lemire's multiply-shift; the tiny bias (< n / 2^64) does not matter here
  // and the result is the same on every platform.
  const unsigned __int128 m = static_cast<unsigned __int128>(Next()) *
                              static_cast<unsigned __int128>(n);
  return static_cast<int64_t>(m >> 64);
}

double EvalRng::Real() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

uint64_t DeriveSeed(uint64_t seed, std::string_view label, int64_t a, int64_t b) {
  // FNV-1a over the label, mixed with the numbers through SplitMix64.
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : label) h = (h ^ c) * 0x100000001B3ull;
  EvalRng rng(seed ^ h);
  EvalRng rng2(rng.Next() ^ static_cast<uint64_t>(a) * 0x9E3779B97F4A7C15ull);
  EvalRng rng3(rng2.Next() ^ static_cast<uint64_t>(b) * 0xC2B2AE3D27D4EB4Full);
  return rng3.Next();
}

const char* const kNoiseSentence =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. "
    "There and back again.";

namespace {

StatusOr<std::string> ReadAll(const std::string& path, const std::string& hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open" + hint);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* const kMakeHint =
    " (run tools/setup.sh, or tools/scripts/make_haystacks.py --out DIR, and pass "
    "that folder as --haystack-dir)";

}  // namespace

std::vector<std::string> SplitSentences(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    while (!cur.empty() && cur.back() == ' ') cur.pop_back();
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (c == '\n' && i + 1 < n && text[i + 1] == '\n') {  // blank line
      flush();
      while (i + 1 < n && std::isspace(static_cast<unsigned char>(text[i + 1]))) ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty() && cur.back() != ' ') cur += ' ';
      continue;
    }
    cur += c;
    if (c == '.' || c == '!' || c == '?') {
      const char next = i + 1 < n ? text[i + 1] : ' ';
      const char prev = i > 0 ? text[i - 1] : ' ';
      const bool glued_paragraph =
          std::isupper(static_cast<unsigned char>(next)) &&
          std::islower(static_cast<unsigned char>(prev));
      if (std::isspace(static_cast<unsigned char>(next)) || glued_paragraph) flush();
    }
  }
  flush();
  return out;
}

Haystack HaystackFromText(std::string name, std::string source, std::string_view text) {
  Haystack h;
  h.name = std::move(name);
  h.source = std::move(source);
  h.sentences = SplitSentences(text);
  return h;
}

StatusOr<Haystack> LoadHaystack(const std::string& dir, const std::string& name) {
  if (name == "noise") {
    Haystack h;
    h.name = "noise";
    h.source = "RULER's repeated filler line";
    h.sentences = {kNoiseSentence};
    return h;
  }
  const std::string manifest_path = dir + "/manifest.json";
  SKV_ASSIGN_OR_RETURN(std::string manifest_text, ReadAll(manifest_path, kMakeHint));
  nlohmann::json manifest = nlohmann::json::parse(manifest_text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return Status::Error(manifest_path + ": not valid JSON" + kMakeHint);
  }
  if (!manifest.contains(name) || !manifest[name].contains("file")) {
    return Status::Error("--haystack '" + name + "' is not in " + manifest_path +
                         "; known: essays, gcide, fortunes, noise");
  }
  const std::string path = dir + "/" + manifest[name]["file"].get<std::string>();
  SKV_ASSIGN_OR_RETURN(std::string text, ReadAll(path, kMakeHint));
  Haystack h = HaystackFromText(name, manifest[name].value("source", name), text);
  if (h.sentences.size() < 100) {
    return Status::Error(path + ": only " + std::to_string(h.sentences.size()) +
                         " sentences; too small for a haystack");
  }
  return h;
}

StatusOr<std::vector<std::string>> LoadWords(const std::string& dir) {
  const std::string path = dir + "/words.txt";
  SKV_ASSIGN_OR_RETURN(std::string text, ReadAll(path, kMakeHint));
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; std::getline(in, w);) {
    if (!w.empty()) words.push_back(w);
  }
  if (words.size() < 1000) {
    return Status::Error(path + ": only " + std::to_string(words.size()) +
                         " words; the tasks need a real word list");
  }
  return words;
}

std::string RandomNumber(EvalRng& rng, int digits) {
  std::string s(1, static_cast<char>('1' + rng.Uniform(9)));
  for (int i = 1; i < digits; ++i) s += static_cast<char>('0' + rng.Uniform(10));
  return s;
}

std::string RandomUuid(EvalRng& rng) {
  static const char* const kHex = "0123456789abcdef";
  std::string s;
  for (int group : {8, 4, 4, 4, 12}) {
    if (!s.empty()) s += '-';
    for (int i = 0; i < group; ++i) s += kHex[rng.Uniform(16)];
  }
  return s;
}

std::string RandomUpperWord(EvalRng& rng, int letters) {
  std::string s;
  for (int i = 0; i < letters; ++i) s += static_cast<char>('A' + rng.Uniform(26));
  return s;
}

std::string RandomLowerWord(EvalRng& rng, int letters) {
  std::string s;
  for (int i = 0; i < letters; ++i) s += static_cast<char>('a' + rng.Uniform(26));
  return s;
}

}  // namespace skv
