// Runs a test body once per Highway SIMD target that is both compiled and supported here.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <string>

namespace lktest {

/// Runs body once per SIMD target compiled and supported here, naming the target on failure.
/// Each kernel module then dispatches to its best compiled target at or below that one.
template <class F>
void for_each_target(F&& body) {
  const auto targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (const std::int64_t t : targets) {
    hwy::SetSupportedTargetsForTest(t);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(t));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace lktest
