#include "runtime/eval_score.h"

#include <cctype>

namespace skv {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Strip(std::string_view s) {
  // Python's str.strip(): whitespace at both ends.
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool Found(const std::string& lower_pred, const std::string& ref) {
  return lower_pred.find(Lower(ref)) != std::string::npos;
}

}  // namespace

std::string PostprocessPrediction(std::string_view prediction) {
  std::string s(Strip(prediction));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = '\n';
  }
  return std::string(Strip(s));
}

double StringMatchAll(std::string_view prediction, const std::vector<std::string>& references) {
  if (references.empty()) return 0.0;
  const std::string pred = Lower(PostprocessPrediction(prediction));
  int found = 0;
  for (const std::string& r : references) found += Found(pred, r) ? 1 : 0;
  return static_cast<double>(found) / static_cast<double>(references.size());
}

double StringMatchPart(std::string_view prediction, const std::vector<std::string>& references) {
  const std::string pred = Lower(PostprocessPrediction(prediction));
  for (const std::string& r : references) {
    if (Found(pred, r)) return 1.0;
  }
  return 0.0;
}

double ScoreSample(MatchKind match, std::string_view prediction,
                   const std::vector<std::string>& references) {
  return match == MatchKind::kAll ? StringMatchAll(prediction, references)
                                  : StringMatchPart(prediction, references);
}

const char* MatchKindName(MatchKind match) {
  return match == MatchKind::kAll ? "string_match_all" : "string_match_part";
}

}  // namespace skv
