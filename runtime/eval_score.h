// RULER's scoring (eval/synthetic/constants.py): the prediction is stripped
// and its control characters become newlines; a reference "is found" when it
// occurs in the prediction, case-insensitively.
//   string_match_all:  fraction of the references found (partial credit);
//   string_match_part: 1 if any reference is found.
// A task's score is the mean over samples, times 100.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/eval_tasks.h"

namespace skv {

std::string PostprocessPrediction(std::string_view prediction);

// Per-sample score in [0, 1] on the postprocessed prediction.
double StringMatchAll(std::string_view prediction, const std::vector<std::string>& references);
double StringMatchPart(std::string_view prediction, const std::vector<std::string>& references);
double ScoreSample(MatchKind match, std::string_view prediction,
                   const std::vector<std::string>& references);
const char* MatchKindName(MatchKind match);  // "string_match_all" / "_part"

}  // namespace skv
