#include "bench/device_sweep.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "bench/bench_devices.h"

namespace seqtrain {
namespace {

double seconds_between(BenchClock::time_point from, BenchClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

const BenchPoint* find_measured(const std::vector<BenchPoint>& points, const std::string& device,
                                int threads, int series, std::int64_t length) {
  for (const BenchPoint& point : points)
    if (point.device == device && point.threads == threads && point.series == series &&
        point.length == length && point.status == PointStatus::measured)
      return &point;
  return nullptr;
}

}  // namespace

const char* point_status_name(PointStatus status) {
  switch (status) {
    case PointStatus::measured: return "measured";
    case PointStatus::skipped: return "skipped";
    case PointStatus::unavailable: return "unavailable";
  }
  return "?";
}

SweepResult run_device_sweep(const SweepSpec& spec) {
  const BenchClock::time_point start = BenchClock::now();
  const BenchClock::time_point deadline =
      start + std::chrono::duration_cast<BenchClock::duration>(
                  std::chrono::duration<double>(spec.budget_seconds));
  SweepResult result;
  CpuPeaks peaks;
  std::vector<BenchTarget> targets = plan_targets(spec.devices, spec.threads);
  // serial and cuda open now (whether cuda runs decides the shares); each cpu
  // target opens at its turn, since opening one sets the one pool's size.
  int available = 0;
  for (BenchTarget& target : targets) {
    if (target.device != "cpu") open_target(target, peaks);
    if (target.device == "cpu" || target.backend) ++available;
  }
  for (BenchTarget& target : targets) {
    if (target.device == "cpu") open_target(target, peaks);
    const std::string label = target_label(target);
    auto new_point = [&](int series, std::int64_t length) {
      BenchPoint point;
      point.device = target.device;
      point.threads = target.threads;
      point.series = series;
      point.length = length;
      point.flop = spec.flop(series, length);
      point.peak_gflop_per_s = target.peak_gflop_per_s;
      return point;
    };
    if (!target.backend) {
      result.targets.push_back(fmt::format("{}: not measured: {}", label, target.unavailable));
      spdlog::info("{}: {}: not measured: {}", spec.name, label, target.unavailable);
      for (std::int64_t length : spec.lengths)
        for (int series = 0; series < static_cast<int>(spec.series.size()); ++series) {
          BenchPoint point = new_point(series, length);
          point.status = PointStatus::unavailable;
          point.note = target.unavailable;
          result.points.push_back(std::move(point));
        }
      continue;
    }
    result.targets.push_back(target.peak_gflop_per_s > 0
                                 ? fmt::format("{}: peak {:.1f} GFLOP/s ({})", label,
                                               target.peak_gflop_per_s, target.peak_source)
                                 : fmt::format("{}: peak unknown ({})", label, target.peak_source));
    const BenchClock::time_point share_end =
        BenchClock::now() + (deadline - BenchClock::now()) / std::max(available, 1);
    --available;
    std::vector<SeriesPredictor> predictors(spec.series.size());
    for (std::int64_t length : spec.lengths)
      for (int series = 0; series < static_cast<int>(spec.series.size()); ++series) {
        BenchPoint point = new_point(series, length);
        const double left = seconds_between(BenchClock::now(), share_end);
        const std::optional<PointPrediction> prediction =
            predictors[static_cast<std::size_t>(series)].predict(point.flop,
                                                                 target.peak_gflop_per_s);
        if (left <= 0 || (prediction && prediction->point_seconds > left)) {
          point.status = PointStatus::skipped;
          point.note = prediction
                           ? fmt::format(
                                 "skipped: predicted {} ({} steps, from {}) > {} left of this "
                                 "device's budget share",
                                 format_seconds(prediction->point_seconds),
                                 minimum_point_steps(prediction->step_seconds), prediction->basis,
                                 format_seconds(std::max(left, 0.0)))
                           : "skipped: this device's budget share is spent";
        } else {
          const StepTiming timing = spec.measure(*target.backend, series, length, share_end);
          point.seconds = timing.median_seconds;
          point.repeats = timing.repeats;
          predictors[static_cast<std::size_t>(series)].measured(point.flop, timing.median_seconds,
                                                                fmt::format("length {}", length));
        }
        spdlog::info("{}: {} {} length {}: {}", spec.name, label,
                     spec.series[static_cast<std::size_t>(series)], length,
                     point.status == PointStatus::measured
                         ? fmt::format("{:.3f} ms ({} timed step{})", point.seconds * 1e3,
                                       point.repeats, point.repeats == 1 ? "" : "s")
                         : point.note);
        result.points.push_back(std::move(point));
      }
    close_target(target);
  }
  // Tables read serial, cpu by threads, then cuda, whatever order ran.
  std::stable_sort(result.points.begin(), result.points.end(),
                   [](const BenchPoint& a, const BenchPoint& b) {
                     auto rank = [](const BenchPoint& point) {
                       return std::pair{point.device == "serial" ? 0
                                        : point.device == "cpu"  ? 1
                                                                 : 2,
                                        point.threads};
                     };
                     return rank(a) < rank(b);
                   });
  result.fma_peaks = peaks.measured();
  result.elapsed_seconds = seconds_between(start, BenchClock::now());
  return result;
}

DerivedFigures derive_figures(const std::vector<BenchPoint>& points, const BenchPoint& point) {
  DerivedFigures figures;
  if (point.peak_gflop_per_s > 0)
    figures.peak_gflop_per_s = fmt::format("{:.1f}", point.peak_gflop_per_s);
  if (point.status != PointStatus::measured) return figures;
  const double gflop_per_s = point.flop / point.seconds * 1e-9;
  figures.ms = fmt::format("{:.4g}", point.seconds * 1e3);
  figures.gflop_per_s = fmt::format("{:.4g}", gflop_per_s);
  if (point.peak_gflop_per_s > 0)
    figures.fraction_of_peak = fmt::format("{:.3f}", gflop_per_s / point.peak_gflop_per_s);
  if (const BenchPoint* serial = find_measured(points, "serial", 1, point.series, point.length))
    figures.speedup_over_serial = fmt::format("{:.3g}", serial->seconds / point.seconds);
  if (point.device == "cpu")
    if (const BenchPoint* one = find_measured(points, "cpu", 1, point.series, point.length))
      figures.parallel_efficiency =
          fmt::format("{:.3f}", one->seconds / (point.threads * point.seconds));
  return figures;
}

std::string devices_markdown(const SweepResult& sweep) {
  std::string text;
  for (const std::string& target : sweep.targets) text += "- " + target + "\n";
  return text;
}

void drop_unavailable_rows(BenchTable& table) {
  const auto status = static_cast<std::size_t>(
      std::find(table.columns.begin(), table.columns.end(), "status") - table.columns.begin());
  std::erase_if(table.rows, [&](const std::vector<std::string>& row) {
    return row.at(status) == point_status_name(PointStatus::unavailable);
  });
}

}  // namespace seqtrain
