// Learning-rate schedules at their boundary steps, against the formulas in
// lr_schedule.h evaluated by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "seqtrain/error.h"
#include "train/lr_schedule.h"

namespace seqtrain {
namespace {

TEST(LrSchedule, WarmupRisesLinearlyToPeakThenStaysConstant) {
  LrSchedule schedule({.peak_learning_rate = 1e-3, .warmup_steps = 4});
  EXPECT_FLOAT_EQ(schedule.learning_rate(1), 2.5e-4f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(2), 5e-4f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(3), 7.5e-4f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(4), 1e-3f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(5), 1e-3f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(1000000), 1e-3f);
}

TEST(LrSchedule, NoWarmupStartsAtPeak) {
  LrSchedule schedule({.peak_learning_rate = 0.5, .warmup_steps = 0});
  EXPECT_FLOAT_EQ(schedule.learning_rate(1), 0.5f);
}

TEST(LrSchedule, LinearDecayReachesFinalRateAtTotalSteps) {
  // W = 10, N = 110: after warmup the rate falls by (1 - 0.1) / 100 per step.
  LrSchedule schedule({.peak_learning_rate = 1.0,
                       .warmup_steps = 10,
                       .decay = LrDecay::linear,
                       .final_learning_rate = 0.1,
                       .total_steps = 110});
  EXPECT_FLOAT_EQ(schedule.learning_rate(5), 0.5f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(10), 1.0f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(11), 1.0f - 0.9f / 100.0f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(60), 0.55f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(109), 0.1f + 0.9f / 100.0f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(110), 0.1f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(500), 0.1f);
}

TEST(LrSchedule, CosineDecayFollowsHalfCosineToFinalRate) {
  LrSchedule schedule({.peak_learning_rate = 2.0,
                       .warmup_steps = 2,
                       .decay = LrDecay::cosine,
                       .final_learning_rate = 0.0,
                       .total_steps = 102});
  EXPECT_FLOAT_EQ(schedule.learning_rate(1), 1.0f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(2), 2.0f);
  // progress 1/4: 2 * (1 + cos(pi/4)) / 2 = 1 + sqrt(2)/2
  EXPECT_FLOAT_EQ(schedule.learning_rate(27), 1.0f + std::numbers::sqrt2_v<float> / 2.0f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(52), 1.0f);  // halfway: the mean of peak and final
  EXPECT_NEAR(schedule.learning_rate(102), 0.0f, 1e-7f);
  EXPECT_NEAR(schedule.learning_rate(200), 0.0f, 1e-7f);
}

TEST(LrSchedule, CosineDecayToNonzeroFinalRate) {
  LrSchedule schedule({.peak_learning_rate = 1e-3,
                       .warmup_steps = 0,
                       .decay = LrDecay::cosine,
                       .final_learning_rate = 1e-4,
                       .total_steps = 3});
  // q = 1/3: 1e-4 + 9e-4 * (1 + cos(pi/3)) / 2 = 1e-4 + 9e-4 * 0.75
  EXPECT_FLOAT_EQ(schedule.learning_rate(1), 7.75e-4f);
  EXPECT_FLOAT_EQ(schedule.learning_rate(3), 1e-4f);
}

TEST(LrSchedule, DecayWithoutStepsAfterWarmupIsAConfigError) {
  EXPECT_THROW(LrSchedule({.peak_learning_rate = 1.0,
                           .warmup_steps = 10,
                           .decay = LrDecay::linear,
                           .total_steps = 10}),
               ConfigError);
  EXPECT_THROW(LrSchedule({.peak_learning_rate = 1.0,
                           .decay = LrDecay::cosine,
                           .final_learning_rate = 2.0,
                           .total_steps = 10}),
               ConfigError);
  EXPECT_THROW(LrSchedule({.peak_learning_rate = 0.0}), ConfigError);
  EXPECT_THROW(LrSchedule({.peak_learning_rate = 1.0, .warmup_steps = -1}), ConfigError);
}

// One rule for a warmup longer than the run (the config check and the trainer
// both use it): a decay keeps one step to decay over, a constant rate none.
TEST(LrSchedule, WarmupLongerThanTheRunIsClampedToFitIt) {
  EXPECT_EQ(clamp_warmup_steps(100, 5, LrDecay::cosine), 4);
  EXPECT_EQ(clamp_warmup_steps(100, 5, LrDecay::linear), 4);
  EXPECT_EQ(clamp_warmup_steps(100, 5, LrDecay::constant), 5);
  EXPECT_EQ(clamp_warmup_steps(3, 5, LrDecay::cosine), 3);
  EXPECT_EQ(clamp_warmup_steps(4, 5, LrDecay::cosine), 4);
  EXPECT_EQ(clamp_warmup_steps(7, 1, LrDecay::cosine), 0);
  EXPECT_EQ(clamp_warmup_steps(0, 0, LrDecay::cosine), 0);
  // Every clamped warmup makes a valid schedule.
  for (std::int64_t steps = 1; steps <= 6; ++steps)
    for (LrDecay decay : {LrDecay::constant, LrDecay::linear, LrDecay::cosine})
      EXPECT_NO_THROW(LrSchedule({.peak_learning_rate = 1.0,
                                  .warmup_steps = clamp_warmup_steps(50, steps, decay),
                                  .decay = decay,
                                  .total_steps = steps}));
}

TEST(LrSchedule, DecayNamesParseAndUnknownNamesAreConfigErrors) {
  EXPECT_EQ(parse_lr_decay("cosine"), LrDecay::cosine);
  EXPECT_EQ(parse_lr_decay("linear"), LrDecay::linear);
  EXPECT_EQ(parse_lr_decay("constant"), LrDecay::constant);
  EXPECT_THROW(parse_lr_decay("exponential"), ConfigError);
}

}  // namespace
}  // namespace seqtrain
