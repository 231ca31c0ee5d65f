// Timing one step of a benchmark within a budget, shared by `seqtrain bench
// affinity` and `bench latency`: a warm-up step, then timed steps (the
// median is reported); and the prediction that decides, before a point
// runs, whether it fits in the time left. A prediction only ever comes from
// a step measured in this process (the same series at a shorter length,
// scaled by the FLOP counts) or from the device's peak (no step can beat
// it); points that do not fit are skipped, never extrapolated into a result.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace seqtrain {

using BenchClock = std::chrono::steady_clock;

struct StepTiming {
  double median_seconds = 0;
  int repeats = 0;  // timed steps (after one warm-up step)
};

// The timed steps of a point (after one warm-up step): at least
// kMinTimedSteps, or only one when a step takes longer than
// kLongStepSeconds (a point of a few long steps would spend the budget that
// other points need); more while their total is under 0.25 s, at most 1000,
// and while one more fits before the deadline.
inline constexpr int kMinTimedSteps = 3;
inline constexpr double kLongStepSeconds = 1.0;
// The steps (warm-up included) a point of steps this long takes at least.
int minimum_point_steps(double step_seconds);

// step() must finish its work before returning (a GPU backend: synchronize).
StepTiming time_steps(const std::function<void()>& step, BenchClock::time_point deadline);

// The seconds a point would take (its warm-up and timed steps) and why.
struct PointPrediction {
  double step_seconds = 0;
  double point_seconds = 0;  // minimum_point_steps(step_seconds) steps
  std::string basis;         // "the measured T=64 step scaled by FLOPs", "the device's peak"
};

// One series (a workload on a device): predicts its next point from the
// last one measured.
class SeriesPredictor {
 public:
  // flop: the point's FLOP count; peak_gflop_per_s: the device's (0 when
  // unknown). Without a measured point, the bound flop / peak (or nothing).
  std::optional<PointPrediction> predict(double flop, double peak_gflop_per_s) const;
  void measured(double flop, double step_seconds, const std::string& where);

 private:
  double flop_ = 0, seconds_ = 0;
  std::string where_;
};

// "3.2 s" / "850 ms" / "12.0 us"
std::string format_seconds(double seconds);

}  // namespace seqtrain
