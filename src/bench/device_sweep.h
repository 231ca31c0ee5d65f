// The sweep both `seqtrain bench` subcommands run: every device target
// (bench_devices.h) x sequence length x series (a workload or a method),
// within one time budget. Each available target gets an equal share of the
// budget left when its turn comes (time a target does not use passes on);
// lengths run shortest first; a point whose predicted time (step_timing.h)
// exceeds what is left of its target's share is skipped with the
// prediction in its note; a target that cannot run gives every point of it
// the reason (no CUDA plug-in, no driver, no GPU: select_backend's words).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_table.h"
#include "bench/step_timing.h"
#include "seqtrain/backend.h"

namespace seqtrain {

enum class PointStatus { measured, skipped, unavailable };
const char* point_status_name(PointStatus status);

struct BenchPoint {
  std::string device;  // serial, cpu, cuda:N
  int threads = 0;     // cpu: the pool's size; serial 1; cuda 0 (not applicable)
  int series = 0;      // index of the workload or method
  std::int64_t length = 0;
  PointStatus status = PointStatus::measured;
  double seconds = 0;  // the median step of a measured point
  int repeats = 0;
  double flop = 0;
  double peak_gflop_per_s = 0;  // 0: unknown
  std::string note;             // why skipped or unavailable
};

struct SweepSpec {
  std::string name;  // "bench affinity", for the log
  std::vector<std::string> devices;
  std::vector<int> threads;
  std::vector<std::int64_t> lengths;
  std::vector<std::string> series;  // their names
  double budget_seconds = 0;
  std::function<double(int series, std::int64_t length)> flop;
  // Builds the point on the backend and times it (time_steps) with the deadline.
  std::function<StepTiming(Backend& backend, int series, std::int64_t length,
                           BenchClock::time_point deadline)>
      measure;
};

struct SweepResult {
  std::vector<BenchPoint> points;
  std::vector<std::string> targets;  // "cpu x2: peak ...", "cuda:0: not measured: ..."
  std::map<int, double> fma_peaks;   // GFLOP/s by thread count
  double elapsed_seconds = 0;
};

SweepResult run_device_sweep(const SweepSpec& spec);

// The figures every table derives from a measured point (empty otherwise):
// ms, GFLOP/s, the peak, the fraction of it, the speedup over the serial
// point of the same series and length, and (cpu) the parallel efficiency
// over the one-thread cpu point: t_1 / (threads * t).
struct DerivedFigures {
  std::string ms, gflop_per_s, peak_gflop_per_s, fraction_of_peak, speedup_over_serial,
      parallel_efficiency;
};
DerivedFigures derive_figures(const std::vector<BenchPoint>& points, const BenchPoint& point);

// The report's Devices section: a bullet per target (its peak, or why it
// was not measured).
std::string devices_markdown(const SweepResult& sweep);
// A markdown table lists the measured and skipped points; the unavailable
// ones are said once per device in the Devices section.
void drop_unavailable_rows(BenchTable& table);

}  // namespace seqtrain
