#include "runtime/eval_score.h"

#include <gtest/gtest.h>

namespace skv {
namespace {

// Hand cases against RULER's definitions (eval/synthetic/constants.py):
// all = fraction of references contained (case-insensitive), part = any.
TEST(EvalScore, StringMatchAllGivesPartialCredit) {
  EXPECT_DOUBLE_EQ(StringMatchAll("The numbers are 123 and 456.", {"123", "456", "789"}),
                   2.0 / 3.0);
  EXPECT_DOUBLE_EQ(StringMatchAll("123 456 789", {"123", "456", "789"}), 1.0);
  EXPECT_DOUBLE_EQ(StringMatchAll("nothing here", {"123"}), 0.0);
  EXPECT_DOUBLE_EQ(StringMatchAll("anything", {}), 0.0);
}

TEST(EvalScore, StringMatchPartNeedsAnyReference) {
  EXPECT_DOUBLE_EQ(StringMatchPart("It was founded by Ada Quell.", {"Ada Quell", "Quell"}), 1.0);
  EXPECT_DOUBLE_EQ(StringMatchPart("Mr quell did it", {"Ada Quell", "Quell"}), 1.0);
  EXPECT_DOUBLE_EQ(StringMatchPart("Nobody knows", {"Ada Quell", "Quell"}), 0.0);
}

TEST(EvalScore, CaseInsensitiveSubstringAsRuler) {
  EXPECT_DOUBLE_EQ(StringMatchAll("ANSWER: AB12-CD", {"ab12-cd"}), 1.0);
  // RULER matches substrings: a longer number containing the value counts.
  EXPECT_DOUBLE_EQ(StringMatchAll("12345678", {"1234567"}), 1.0);
  // ... but a split value does not.
  EXPECT_DOUBLE_EQ(StringMatchAll("123 4567", {"1234567"}), 0.0);
}

TEST(EvalScore, PostprocessStripsAndTurnsControlCharactersIntoNewlines) {
  EXPECT_EQ(PostprocessPrediction("  \x01 answer\tis\x02 \n"), "answer\nis");
  EXPECT_EQ(PostprocessPrediction("\n\n"), "");
  // A reference spanning a control character no longer matches.
  EXPECT_DOUBLE_EQ(StringMatchAll("12\x01" "34", {"1234"}), 0.0);
}

TEST(EvalScore, DispatchAndNames) {
  EXPECT_DOUBLE_EQ(ScoreSample(MatchKind::kAll, "a b", {"a", "c"}), 0.5);
  EXPECT_DOUBLE_EQ(ScoreSample(MatchKind::kPart, "a b", {"a", "c"}), 1.0);
  EXPECT_STREQ(MatchKindName(MatchKind::kAll), "string_match_all");
  EXPECT_STREQ(MatchKindName(MatchKind::kPart), "string_match_part");
}

}  // namespace
}  // namespace skv
