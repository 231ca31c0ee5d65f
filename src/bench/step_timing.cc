#include "bench/step_timing.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace seqtrain {
namespace {

constexpr double kMinTimedSeconds = 0.25;
constexpr int kMaxTimedSteps = 1000;

double seconds_since(BenchClock::time_point begin) {
  return std::chrono::duration<double>(BenchClock::now() - begin).count();
}

}  // namespace

int minimum_point_steps(double step_seconds) {
  return 1 + (step_seconds > kLongStepSeconds ? 1 : kMinTimedSteps);
}

StepTiming time_steps(const std::function<void()>& step, BenchClock::time_point deadline) {
  step();  // warm-up: first-touch of the arena, library plans, caches
  std::vector<double> seconds;
  double total = 0;
  while (static_cast<int>(seconds.size()) < kMaxTimedSteps) {
    if (!seconds.empty()) {
      const double typical = total / static_cast<double>(seconds.size());
      // The warm-up and the timed steps so far against the minimum.
      const bool minimum_done =
          1 + static_cast<int>(seconds.size()) >= minimum_point_steps(typical);
      if (minimum_done && (total >= kMinTimedSeconds ||
                           BenchClock::now() + std::chrono::duration<double>(typical) > deadline))
        break;
    }
    const BenchClock::time_point begin = BenchClock::now();
    step();
    seconds.push_back(seconds_since(begin));
    total += seconds.back();
  }
  std::sort(seconds.begin(), seconds.end());
  const std::size_t middle = seconds.size() / 2;
  const double median =
      seconds.size() % 2 == 1 ? seconds[middle] : 0.5 * (seconds[middle - 1] + seconds[middle]);
  return {median, static_cast<int>(seconds.size())};
}

std::optional<PointPrediction> SeriesPredictor::predict(double flop,
                                                        double peak_gflop_per_s) const {
  const double steps = 1 + kMinTimedSteps;
  if (seconds_ > 0) {
    const double step = flop_ > 0 ? seconds_ * std::max(1.0, flop / flop_) : seconds_;
    return PointPrediction{
        step, steps * step,
        fmt::format("the measured {} step ({}) scaled by FLOPs", where_, format_seconds(seconds_))};
  }
  if (peak_gflop_per_s > 0) {
    const double step = flop / (peak_gflop_per_s * 1e9);
    return PointPrediction{step, minimum_point_steps(step) * step,
                           "the device's peak (a lower bound)"};
  }
  return std::nullopt;
}

void SeriesPredictor::measured(double flop, double step_seconds, const std::string& where) {
  flop_ = flop;
  seconds_ = step_seconds;
  where_ = where;
}

std::string format_seconds(double seconds) {
  if (seconds >= 1.0) return fmt::format("{:.1f} s", seconds);
  if (seconds >= 1e-3) return fmt::format("{:.1f} ms", seconds * 1e3);
  return fmt::format("{:.1f} us", seconds * 1e6);
}

}  // namespace seqtrain
