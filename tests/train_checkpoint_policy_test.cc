// MetricTracker::restore (train/checkpoint_policy.h) on a damaged
// trainer_state.json: counts that are not non-negative integers are one
// CheckpointError. The fuzzer (fuzz/trainer_state_fuzzer) found
// validations_without_improvement: 92233720368547758070, which JSON reads as a
// float and get<int64_t> turned into undefined behaviour (UBSan's
// float-cast-overflow).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "seqtrain/error.h"
#include "train/checkpoint_policy.h"

namespace seqtrain {
namespace {

nlohmann::json saved_tracker(const nlohmann::json& stale, const nlohmann::json& best_step) {
  return {{"metric", "accuracy"},
          {"validations_without_improvement", stale},
          {"best_step", best_step},
          {"best_value", 0.25}};
}

TEST(MetricTrackerRestore, CountsMustBeNonNegativeIntegers) {
  MetricTracker tracker("accuracy");
  tracker.restore(saved_tracker(2, 7));
  EXPECT_EQ(tracker.validations_without_improvement(), 2);
  EXPECT_EQ(tracker.best_step(), 7);
  const nlohmann::json huge = nlohmann::json::parse("92233720368547758070");
  ASSERT_TRUE(huge.is_number_float());
  for (const nlohmann::json& bad : {huge, nlohmann::json(-1), nlohmann::json(1.5),
                                    nlohmann::json("3"), nlohmann::json(nullptr)}) {
    EXPECT_THROW(MetricTracker("accuracy").restore(saved_tracker(bad, 1)), CheckpointError)
        << bad.dump();
    EXPECT_THROW(MetricTracker("accuracy").restore(saved_tracker(0, bad)), CheckpointError)
        << bad.dump();
  }
  nlohmann::json no_value = saved_tracker(0, 1);
  no_value["best_value"] = "high";
  EXPECT_THROW(MetricTracker("accuracy").restore(no_value), CheckpointError);
}

}  // namespace
}  // namespace seqtrain
