#include "runtime/eval_tasks.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

#include "models/chat_template.h"

namespace skv {
namespace {

// ---------------------------------------------------------------------------
// Needle in a haystack (RULER's niah.py recipe).

enum class Fill { kNoise, kProse, kNeedles };
enum class Kind { kWords, kNumbers, kUuids };

struct NiahSpec {
  Fill fill;
  Kind key;
  Kind value;
  int num_keys = 1;     // needles with different keys
  int num_values = 1;   // values per key
  int num_queries = 1;  // keys asked at once
};

std::string MakeId(EvalRng& rng, Kind kind, const std::vector<std::string>& words) {
  switch (kind) {
    case Kind::kWords:  // RULER: adjective-noun; any two dictionary words here
      return words[rng.Uniform(words.size())] + "-" + words[rng.Uniform(words.size())];
    case Kind::kNumbers:
      return RandomNumber(rng, 7);
    case Kind::kUuids:
      return RandomUuid(rng);
  }
  return {};
}

// Sentences [offset, offset + count) of the haystack, wrapping around.
std::vector<std::string> TakeSentences(const Haystack& h, int64_t offset, int64_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  const int64_t n = static_cast<int64_t>(h.sentences.size());
  for (int64_t i = 0; i < count; ++i) out.push_back(h.sentences[(offset + i) % n]);
  return out;
}

// Inserts items at fractional depths (each in [0, 1]) between the filler
// units; items at equal positions keep their order.
std::string InsertAtDepths(const std::vector<std::string>& filler,
                           std::vector<std::pair<double, std::string>> items,
                           const char* sep) {
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  size_t next = 0;
  const int64_t n = static_cast<int64_t>(filler.size());
  auto add = [&](const std::string& s) {
    if (!out.empty()) out += sep;
    out += s;
  };
  for (int64_t i = 0; i <= n; ++i) {
    while (next < items.size() &&
           static_cast<int64_t>(items[next].first * n + 0.5) <= i) {
      add(items[next++].second);
    }
    if (i < n) add(filler[i]);
  }
  return out;
}

std::string JoinQuery(const std::vector<std::string>& keys) {
  if (keys.size() == 1) return keys[0];
  std::string q;
  for (size_t i = 0; i + 1 < keys.size(); ++i) q += (i ? ", " : "") + keys[i];
  return q + ", and " + keys.back();
}

EvalSample BuildNiah(const NiahSpec& spec, int64_t size, uint64_t seed,
                     const TaskSources& src, double depth) {
  EvalRng rng(seed);
  const std::vector<std::string>& words = *src.words;
  const char* what = spec.value == Kind::kUuids ? "uuids" : "numbers";
  // Random draws that do not depend on `size` come first, so the needles stay
  // the same while the binary search changes the filler.
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> values;
  std::vector<std::pair<double, std::string>> needles;
  for (int k = 0; k < spec.num_keys; ++k) {
    keys.push_back(MakeId(rng, spec.key, words));
    values.emplace_back();
    for (int v = 0; v < spec.num_values; ++v) {
      values.back().push_back(MakeId(rng, spec.value, words));
      const double d = depth >= 0 ? depth : rng.Real();
      needles.emplace_back(d, "One of the special magic " + std::string(what) + " for " +
                                  keys.back() + " is: " + values.back().back() + ".");
    }
  }
  std::vector<int> order(spec.num_keys);
  std::iota(order.begin(), order.end(), 0);
  rng.Shuffle(order);
  std::vector<std::string> queried;
  EvalSample s;
  for (int q = 0; q < spec.num_queries; ++q) {
    queried.push_back(keys[order[q]]);
    for (const std::string& v : values[order[q]]) s.references.push_back(v);
  }
  const int64_t offset = rng.Uniform(1 << 30);
  std::vector<std::string> filler;
  switch (spec.fill) {
    case Fill::kNoise:
      filler.assign(size, kNoiseSentence);
      s.haystack = "noise";
      break;
    case Fill::kProse:
      filler = TakeSentences(*src.prose, offset % src.prose->sentences.size(), size);
      s.haystack = src.prose->name;
      break;
    case Fill::kNeedles: {
      // Distractor needles of the same shapes (keys differ from the real ones
      // with overwhelming probability; a clash is re-drawn).
      EvalRng drng(seed ^ 0xD15EA5Eull);
      while (static_cast<int64_t>(filler.size()) < size) {
        const std::string k = MakeId(drng, spec.key, words);
        if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
        filler.push_back("One of the special magic " + std::string(what) + " for " + k +
                         " is: " + MakeId(drng, spec.value, words) + ".");
      }
      s.haystack = "needles";
      break;
    }
  }
  const std::string query = JoinQuery(queried);
  s.context = "Some special magic " + std::string(what) +
              " are hidden within the following text. Make sure to memorize it. I will "
              "quiz you about the " + what + " afterwards.\n" +
              InsertAtDepths(filler, needles, " ") + "\n";
  s.question = "What are all the special magic " + std::string(what) + " for " + query +
               " mentioned in the provided text?";
  s.answer_prefix = " The special magic " + std::string(what) + " for " + query +
                    " mentioned in the provided text are";
  return s;
}

// ---------------------------------------------------------------------------
// Variable tracking: one chain of 4 hops hidden in noise.

EvalSample BuildVt(int64_t size, uint64_t seed, const TaskSources& src, double) {
  EvalRng rng(seed);
  auto chain = [&](EvalRng& r, std::vector<std::string>& names, std::string& value) {
    value = RandomNumber(r, 5);
    std::vector<std::string> lines;
    for (int i = 0; i < 5; ++i) {
      names.push_back(RandomUpperWord(r, 5));
      lines.push_back("VAR " + names[i] + " = " + (i == 0 ? value : "VAR " + names[i - 1]) + ".");
    }
    return lines;
  };
  // A short worked example first, as RULER gives base models.
  std::vector<std::string> ex_names;
  std::string ex_value;
  const std::vector<std::string> ex_lines = chain(rng, ex_names, ex_value);
  std::vector<std::pair<double, std::string>> ex_items;
  for (int i = 0; i < 5; ++i) ex_items.emplace_back((i + 0.5) / 5.0, ex_lines[i]);
  const std::string intro =
      "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n";
  std::string example = intro + InsertAtDepths(std::vector<std::string>(5, kNoiseSentence),
                                               ex_items, " ") +
                        "\nQuestion: Find all variables that are assigned the value " + ex_value +
                        " in the text above. Answer: According to the chain(s) of variable "
                        "assignment in the text above, 5 variables are assigned the value " +
                        ex_value + ", they are:";
  for (const std::string& n : ex_names) example += " " + n;
  std::vector<std::string> names;
  std::string value;
  const std::vector<std::string> lines = chain(rng, names, value);
  std::vector<double> depths(5);
  for (double& d : depths) d = rng.Real();
  std::sort(depths.begin(), depths.end());  // the chain reads in order
  std::vector<std::pair<double, std::string>> items;
  for (int i = 0; i < 5; ++i) items.emplace_back(depths[i], lines[i]);
  EvalSample s;
  s.haystack = "noise";
  s.references = names;
  s.context = example + "\n\n" + intro +
              InsertAtDepths(std::vector<std::string>(size, kNoiseSentence), items, " ") + "\n";
  s.question = "Question: Find all variables that are assigned the value " + value +
               " in the text above.";
  s.answer_prefix = " Answer: According to the chain(s) of variable assignment in the text "
                    "above, 5 variables are assigned the value " + value + ", they are:";
  return s;
}

// ---------------------------------------------------------------------------
// Common words extraction: 10 words x freq_common, `size` others x 3.

constexpr int kCweCommon = 10;
constexpr int kCweRare = 3;
constexpr int kCweExampleRare = 10;

std::string NumberedList(const std::vector<std::string>& list) {
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    out += std::to_string(i + 1) + ". " + list[i] + "\n";
  }
  return out;
}

EvalSample BuildCwe(int64_t size, uint64_t seed, const TaskSources& src, double,
                    int freq_common) {
  EvalRng rng(seed);
  const std::vector<std::string>& words = *src.words;
  // Distinct words: the first 10 are the common ones; the example has its own.
  std::vector<std::string> pool;
  std::map<std::string, int> seen;
  const int64_t need = 2 * kCweCommon + kCweExampleRare + size;
  while (static_cast<int64_t>(pool.size()) < need) {
    const std::string& w = words[rng.Uniform(words.size())];
    if (seen[w]++ == 0) pool.push_back(w);
  }
  auto make_list = [&](int64_t first, int64_t rare, int freq_c, int freq_r) {
    std::vector<std::string> list;
    for (int64_t i = 0; i < kCweCommon + rare; ++i) {
      const int freq = i < kCweCommon ? freq_c : freq_r;
      for (int r = 0; r < freq; ++r) list.push_back(pool[first + i]);
    }
    rng.Shuffle(list);
    return list;
  };
  const std::string intro =
      "Below is a numbered list of words. In these words, some appear more often than "
      "others. Memorize the ones that appear most often.\n";
  const std::string q = "Question: What are the 10 most common words in the above list?";
  const std::string prefix = " Answer: The top 10 words that appear most often in the list are:";
  std::string example = intro + NumberedList(make_list(0, kCweExampleRare, 3, 1)) + q + prefix;
  for (int i = 0; i < kCweCommon; ++i) example += " " + std::to_string(i + 1) + ". " + pool[i];
  EvalSample s;
  s.haystack = "words";
  s.context = example + "\n\n" + intro +
              NumberedList(make_list(2 * kCweCommon + kCweExampleRare - kCweCommon, size,
                                     freq_common, kCweRare));
  s.question = q;
  s.answer_prefix = prefix;
  for (int i = 0; i < kCweCommon; ++i) {
    s.references.push_back(pool[2 * kCweCommon + kCweExampleRare - kCweCommon + i]);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Frequent words extraction: coded words drawn from Zipf(alpha = 2) over a
// vocabulary whose rank 1 is "....", which the question says to ignore.

constexpr int kFweVocab = 500;

EvalSample BuildFwe(int64_t size, uint64_t seed, const TaskSources&, double) {
  EvalRng rng(seed);
  std::vector<std::string> vocab = {"...."};
  std::map<std::string, int> seen;
  while (static_cast<int>(vocab.size()) < kFweVocab) {
    std::string w = RandomLowerWord(rng, 5 + static_cast<int>(rng.Uniform(2)));
    if (seen[w]++ == 0) vocab.push_back(w);
  }
  std::vector<double> cdf(kFweVocab);  // Zipf with alpha 2
  double total = 0;
  for (int r = 0; r < kFweVocab; ++r) cdf[r] = total += 1.0 / ((r + 1.0) * (r + 1.0));
  auto draw = [&](int64_t n) {
    std::vector<int> counts(kFweVocab, 0);
    std::string text;
    for (int64_t i = 0; i < n; ++i) {
      const double u = rng.Real() * total;
      const int r = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
      ++counts[std::min(r, kFweVocab - 1)];
      text += (i ? " " : "") + vocab[std::min(r, kFweVocab - 1)];
    }
    return std::make_pair(text, counts);
  };
  auto top3 = [&](const std::vector<int>& counts) {
    std::vector<int> idx(kFweVocab - 1);
    std::iota(idx.begin(), idx.end(), 1);  // rank 1 ("....") is ignored
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return counts[a] > counts[b]; });
    return std::vector<std::string>{vocab[idx[0]], vocab[idx[1]], vocab[idx[2]]};
  };
  const std::string intro =
      "Read the following coded text and track the frequency of each coded word. Find the "
      "three most frequently appeared coded words. ";
  const std::string q =
      "Question: Do not provide any explanation. Please ignore the dots '....'. What are the "
      "three most frequently appeared words in the above coded text?";
  const std::string prefix =
      " Answer: According to the coded text above, the three most frequently appeared words "
      "are:";
  const auto [ex_text, ex_counts] = draw(120);
  std::string example = intro + ex_text + "\n" + q + prefix;
  for (const std::string& w : top3(ex_counts)) example += " " + w;
  const auto [text, counts] = draw(size);
  EvalSample s;
  s.haystack = "coded";
  s.context = example + "\n\n" + intro + text + "\n";
  s.question = q;
  s.answer_prefix = prefix;
  s.references = top3(counts);
  return s;
}

// ---------------------------------------------------------------------------
// QA substitute: templated facts about fictional towns, one per document,
// among distractor documents padded with haystack prose.

std::string Capitalized(std::string w) {
  if (!w.empty()) w[0] = static_cast<char>(w[0] - 'a' + 'A');
  return w;
}

EvalSample BuildQa(int64_t size, uint64_t seed, const TaskSources& src, double) {
  EvalRng rng(seed);
  const std::vector<std::string>& words = *src.words;
  static const char* const kSuffix[] = {"ton", "ville", "burg", "mouth", "field", "ford"};
  auto word = [&] { return words[rng.Uniform(words.size())]; };
  struct Town {
    std::string name, founder, export_good, river;
    int year;
  };
  auto make_town = [&] {
    Town t;
    t.name = Capitalized(word()) + kSuffix[rng.Uniform(6)];
    t.founder = Capitalized(word()) + " " + Capitalized(word());
    t.export_good = word();
    t.river = Capitalized(word());
    t.year = 1200 + static_cast<int>(rng.Uniform(750));
    return t;
  };
  auto describe = [](const Town& t) {
    return t.name + " is a town on the " + t.river + " river. It was founded in " +
           std::to_string(t.year) + " by " + t.founder + ". Its main export is " +
           t.export_good + ".";
  };
  const Town gold = make_town();
  const int question_kind = static_cast<int>(rng.Uniform(3));
  const double gold_depth = rng.Real();
  const int64_t offset = rng.Uniform(1 << 30);
  EvalSample s;
  s.haystack = src.prose->name;
  std::vector<std::string> docs;
  for (int64_t d = 0; d < size; ++d) {
    Town t = make_town();
    if (t.name == gold.name) t.name += "s";
    docs.push_back(describe(t));
  }
  docs.insert(docs.begin() + static_cast<int64_t>(gold_depth * size + 0.5), describe(gold));
  std::string context;
  const int64_t n = static_cast<int64_t>(src.prose->sentences.size());
  for (size_t d = 0; d < docs.size(); ++d) {
    context += "Document " + std::to_string(d + 1) + ":\n" + docs[d];
    for (int k = 0; k < 3; ++k) context += " " + src.prose->sentences[(offset + 3 * d + k) % n];
    context += "\n\n";
  }
  const std::string instr = "Answer the question based on the given documents. Only give me "
                            "the answer and do not output any other words.";
  s.context = instr + "\n\nThe following are given documents.\n\n" + context + instr + "\n\n";
  switch (question_kind) {
    case 0:
      s.question = "Question: In which year was " + gold.name + " founded?";
      s.references = {std::to_string(gold.year)};
      break;
    case 1:
      s.question = "Question: Who founded " + gold.name + "?";
      s.references = {gold.founder, gold.founder.substr(gold.founder.find(' ') + 1)};
      break;
    default:
      s.question = "Question: What is the main export of " + gold.name + "?";
      s.references = {gold.export_good};
      break;
  }
  s.answer_prefix = " Answer:";
  return s;
}

using Builder = std::function<EvalSample(int64_t size, uint64_t seed, const TaskSources&, double)>;

Builder NiahBuilder(NiahSpec spec) {
  return [spec](int64_t size, uint64_t seed, const TaskSources& src, double depth) {
    return BuildNiah(spec, size, seed, src, depth);
  };
}

Builder FindBuilder(const std::string& task) {
  static const std::map<std::string, NiahSpec> kNiah = {
      {"niah_single_1", {Fill::kNoise, Kind::kWords, Kind::kNumbers}},
      {"niah_single_2", {Fill::kProse, Kind::kWords, Kind::kNumbers}},
      {"niah_single_3", {Fill::kProse, Kind::kWords, Kind::kUuids}},
      {"niah_multikey_1", {Fill::kProse, Kind::kWords, Kind::kNumbers, 4}},
      {"niah_multikey_2", {Fill::kNeedles, Kind::kWords, Kind::kNumbers}},
      {"niah_multikey_3", {Fill::kNeedles, Kind::kUuids, Kind::kUuids}},
      {"niah_multivalue", {Fill::kProse, Kind::kWords, Kind::kNumbers, 1, 4}},
      {"niah_multiquery", {Fill::kProse, Kind::kWords, Kind::kNumbers, 4, 1, 4}},
      {"needle", {Fill::kProse, Kind::kWords, Kind::kNumbers}},
  };
  if (auto it = kNiah.find(task); it != kNiah.end()) return NiahBuilder(it->second);
  if (task == "vt") return BuildVt;
  if (task == "fwe") return BuildFwe;
  if (task == "qa") return BuildQa;
  return nullptr;
}

// Largest size in [lo, ...] whose prompt fits `target`; -1 if even lo does
// not. Exponential search up, then bisection.
template <typename Fits>
int64_t LargestFitting(int64_t lo, const Fits& fits) {
  if (!fits(lo)) return -1;
  int64_t good = lo, bad = std::max<int64_t>(2 * lo, 8);
  while (fits(bad)) {
    good = bad;
    bad *= 2;
    if (bad > (int64_t{1} << 24)) return good;  // a counter that never grows
  }
  while (bad - good > 1) {
    const int64_t mid = good + (bad - good) / 2;
    (fits(mid) ? good : bad) = mid;
  }
  return good;
}

}  // namespace

const std::vector<TaskInfo>& EvalTasks() {
  static const std::vector<TaskInfo> kTasks = {
      {"niah_single_1", "one needle (7-digit number) in RULER's repeated noise line",
       MatchKind::kAll, 128, false},
      {"niah_single_2", "one needle (number) in prose", MatchKind::kAll, 128, true},
      {"niah_single_3", "one needle (UUID value) in prose", MatchKind::kAll, 128, true},
      {"niah_multikey_1", "4 needles with different keys in prose, one asked", MatchKind::kAll,
       128, true},
      {"niah_multikey_2", "haystack made only of distractor needles (word keys)",
       MatchKind::kAll, 128, false},
      {"niah_multikey_3", "haystack of distractor needles (UUID keys and values)",
       MatchKind::kAll, 128, false},
      {"niah_multivalue", "one key with 4 values, all must be returned", MatchKind::kAll, 128,
       true},
      {"niah_multiquery", "4 keys asked at once", MatchKind::kAll, 128, true},
      {"vt", "variable tracking: a 4-hop chain of assignments in noise", MatchKind::kAll, 30,
       false},
      {"cwe", "common words: 10 words x30 among words x3 in a numbered list", MatchKind::kAll,
       120, false},
      {"fwe", "frequent coded words, Zipf(2): return ranks 2-4", MatchKind::kAll, 50, false},
      {"qa", "facts about fictional towns in 'Document i' among distractors",
       MatchKind::kPart, 32, true},
      {"needle", "the heatmap's single needle at a given depth (prose)", MatchKind::kAll, 128,
       true},
  };
  return kTasks;
}

std::string EvalTaskNames() {
  std::string names;
  for (const TaskInfo& t : EvalTasks()) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

const TaskInfo* FindEvalTask(const std::string& name) {
  for (const TaskInfo& t : EvalTasks()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

StatusOr<EvalSample> MakeSample(const std::string& task, int64_t target_tokens, uint64_t seed,
                                int64_t index, const TaskSources& sources,
                                const TokenCounter& count, double depth) {
  const TaskInfo* info = FindEvalTask(task);
  if (info == nullptr) {
    return Status::Error("--tasks: unknown task '" + task + "'; known: " + EvalTaskNames());
  }
  if (sources.words == nullptr || sources.words->empty() ||
      (info->prose_haystack && (sources.prose == nullptr || sources.prose->sentences.empty()))) {
    return Status::Error("task '" + task + "' needs the word list and a prose haystack");
  }
  if (task == "needle" && !(depth >= 0 && depth <= 1)) {
    return Status::Error("the needle task needs a depth in [0, 1] (--depths)");
  }
  const uint64_t sample_seed = DeriveSeed(seed, task, index, target_tokens);
  Builder build;
  if (task == "cwe") {
    // RULER's frequencies (30 / 3) where they leave room for some rare words;
    // fewer repeats of the common words at short lengths.
    for (int freq : {30, 20, 10, 6}) {
      build = [freq](int64_t size, uint64_t s, const TaskSources& src, double d) {
        return BuildCwe(size, s, src, d, freq);
      };
      EvalSample probe = build(2 * kCweCommon, sample_seed, sources, depth);
      if (count(probe) <= target_tokens) break;
    }
  } else {
    build = FindBuilder(task);
  }
  const int64_t size = LargestFitting(1, [&](int64_t n) {
    return count(build(n, sample_seed, sources, depth)) <= target_tokens;
  });
  if (size < 0) {
    return Status::Error("--lengths: " + std::to_string(target_tokens) +
                         " tokens is too short for task '" + task + "'");
  }
  EvalSample s = build(size, sample_seed, sources, depth);
  s.task = task;
  s.index = index;
  s.seed = sample_seed;
  s.target_tokens = target_tokens;
  s.prompt_tokens = count(s);
  s.depth = task == "needle" ? depth : -1;
  s.match = info->match;
  s.max_new_tokens = info->max_new_tokens;
  return s;
}

StatusOr<PromptParts> SplitEvalPrompt(const Model& model, const EvalSample& sample) {
  if (model.file().Find("tokenizer.chat_template") == nullptr) {
    return PromptParts{sample.context, sample.question + sample.answer_prefix, false};
  }
  // Render with a marker where the question goes, then cut there.
  SKV_ASSIGN_OR_RETURN(ChatFamily family, DetectChatFamily(model.file()));
  const std::string marker = "\x01QUESTION\x01";
  const std::string full =
      FormatChat(family, {{"user", sample.context + marker}}, /*add_generation_prompt=*/true);
  const size_t at = full.find(marker);
  if (at == std::string::npos) return Status::Error("chat template lost the question");
  return PromptParts{full.substr(0, at),
                     sample.question + full.substr(at + marker.size()) + sample.answer_prefix,
                     true};
}

TokenCounter ModelTokenCounter(const Model& model) {
  return [&model](const EvalSample& s) -> int64_t {
    StatusOr<PromptParts> parts = SplitEvalPrompt(model, s);
    // An unusable template never fits, so sizing reports the length as too short.
    if (!parts.ok()) return std::numeric_limits<int64_t>::max();
    const Tokenizer& tok = model.tokenizer();
    return static_cast<int64_t>(tok.Encode(parts->span, true, parts->chat).size() +
                                tok.Encode(parts->rest, false, parts->chat).size());
  };
}

}  // namespace skv
