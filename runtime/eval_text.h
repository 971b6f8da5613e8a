// The raw material of the generated evaluation suite: a seeded random source
// whose stream is the same on every platform (std:: distributions are not),
// and the real text that packages ship (haystacks, word lists), read from the
// folder tools/scripts/make_haystacks.py writes (see shared evaluation.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace skv {

// SplitMix64: tiny, fast, and fully specified, so a seed names one task set.
class EvalRng {
 public:
  explicit EvalRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n); n > 0.
  int64_t Uniform(int64_t n);
  // Uniform in [0, 1).
  double Real();
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) {
      std::swap(v[i], v[Uniform(i + 1)]);
    }
  }

 private:
  uint64_t state_;
};

// A seed for one part of a run, derived from the run's seed and a label
// ("niah_single_1", sample 3, ...): samples do not depend on which other
// tasks or lengths are in the run.
uint64_t DeriveSeed(uint64_t seed, std::string_view label, int64_t a, int64_t b = 0);

// Text a task draws its filler from, cut into sentences.
struct Haystack {
  std::string name;    // "essays", "gcide", "fortunes", "noise"
  std::string source;  // package and version it came from
  std::vector<std::string> sentences;
};

// RULER's repeated filler line ("The grass is green. ...").
extern const char* const kNoiseSentence;

// Loads DIR/manifest.json's entry `name` ("essays", "gcide", "fortunes") or
// builds the "noise" haystack (no file). Errors name the folder, the file and
// tools/scripts/make_haystacks.py.
StatusOr<Haystack> LoadHaystack(const std::string& dir, const std::string& name);
// Builds a haystack from text directly (tests, custom corpora).
Haystack HaystackFromText(std::string name, std::string source, std::string_view text);

// The word list DIR/words.txt (lowercase alphabetic words, one a line).
StatusOr<std::vector<std::string>> LoadWords(const std::string& dir);

// Sentences of `text`: split after . ! ? followed by a space or by an
// upper-case letter (the essays lose spaces between paragraphs), and at blank
// lines; whitespace runs become one space; empty pieces are dropped.
std::vector<std::string> SplitSentences(std::string_view text);

// Random identifiers in RULER's shapes.
std::string RandomNumber(EvalRng& rng, int digits);  // no leading zero
std::string RandomUuid(EvalRng& rng);                // 8-4-4-4-12 hex
std::string RandomUpperWord(EvalRng& rng, int letters);
std::string RandomLowerWord(EvalRng& rng, int letters);

}  // namespace skv
