// Test helper: runs a body once per Highway target that is both compiled in
// and supported by this CPU, so every kernel is checked on every target.
#pragma once

#include <cstdint>

#include "gtest/gtest.h"
#include "hwy/targets.h"

namespace skv {

template <typename Fn>
void ForEachTarget(const Fn& fn) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn(target);
  }
  hwy::SetSupportedTargetsForTest(0);  // back to the best target
}

}  // namespace skv
