#include "bench/affinity_bench.h"

#include <fmt/format.h>

#include "io/atomic_write.h"
#include "seqtrain/executor.h"

namespace seqtrain {
namespace {

AffinityShape shape_at(const AffinityOptions& options, std::int64_t length) {
  return {options.batch, length, options.hidden};
}

AffinityWorkload workload_of(int series) {
  return kAffinityWorkloads[static_cast<std::size_t>(series)];
}

// One training step of the workload on the backend, timed.
StepTiming measure_step(Backend& backend, AffinityWorkload workload, const AffinityShape& shape,
                        std::uint64_t seed, BenchClock::time_point deadline) {
  ParameterStore store(backend);
  Graph graph = build_affinity_graph(workload, shape);
  add_affinity_parameters(graph, store, seed);
  Executor executor(std::move(graph), backend, store, /*training=*/true);
  fill_affinity_inputs(executor, shape);
  RunContext context;
  context.seed = seed;
  return time_steps(
      [&] {
        executor.forward_backward(context);
        backend.synchronize();
      },
      deadline);
}

}  // namespace

AffinityReport run_affinity_bench(const AffinityOptions& options) {
  AffinityReport report;
  report.options = options;
  report.host = describe_host();
  for (AffinityWorkload workload : kAffinityWorkloads)
    for (std::int64_t length : options.lengths) {
      Graph graph = build_affinity_graph(workload, shape_at(options, length));
      append_backward(graph);
      report.critical_paths[{workload, length}] = critical_path_steps(graph);
    }
  SweepSpec spec;
  spec.name = "bench affinity";
  spec.devices = options.devices;
  spec.threads = options.threads;
  spec.lengths = options.lengths;
  for (AffinityWorkload workload : kAffinityWorkloads)
    spec.series.push_back(affinity_workload_name(workload));
  spec.budget_seconds = options.budget_seconds;
  spec.flop = [&](int series, std::int64_t length) {
    return affinity_step_flop(workload_of(series), shape_at(options, length));
  };
  spec.measure = [&](Backend& backend, int series, std::int64_t length,
                     BenchClock::time_point deadline) {
    return measure_step(backend, workload_of(series), shape_at(options, length), options.seed,
                        deadline);
  };
  report.sweep = run_device_sweep(spec);
  report.host.load_after = take_load_average();
  return report;
}

BenchTable affinity_table(const AffinityReport& report) {
  BenchTable table;
  table.columns = {"device",
                   "threads",
                   "workload",
                   "length",
                   "batch",
                   "hidden",
                   "heads",
                   "status",
                   "ms",
                   "tokens_per_s",
                   "gflop",
                   "gflop_per_s",
                   "peak_gflop_per_s",
                   "fraction_of_peak",
                   "speedup_over_serial",
                   "parallel_efficiency",
                   "critical_path_steps",
                   "repeats",
                   "note"};
  const AffinityOptions& options = report.options;
  for (const BenchPoint& point : report.sweep.points) {
    const bool measured = point.status == PointStatus::measured;
    const DerivedFigures figures = derive_figures(report.sweep.points, point);
    const AffinityWorkload workload = workload_of(point.series);
    table.rows.push_back(
        {point.device, point.threads > 0 ? std::to_string(point.threads) : "",
         affinity_workload_name(workload), std::to_string(point.length),
         std::to_string(options.batch), std::to_string(options.hidden),
         std::to_string(affinity_heads(options.hidden)), point_status_name(point.status),
         figures.ms,
         measured ? fmt::format("{:.0f}",
                                static_cast<double>(options.batch * point.length) / point.seconds)
                  : "",
         fmt::format("{:.4g}", point.flop * 1e-9), figures.gflop_per_s, figures.peak_gflop_per_s,
         figures.fraction_of_peak, figures.speedup_over_serial, figures.parallel_efficiency,
         std::to_string(report.critical_paths.at({workload, point.length})),
         measured ? std::to_string(point.repeats) : "", point.note});
  }
  return table;
}

std::string affinity_markdown(const AffinityReport& report, const std::string& command_line) {
  const AffinityOptions& options = report.options;
  BenchTable table = affinity_table(report);
  drop_unavailable_rows(table);  // listed under Devices instead, with the reason
  return fmt::format(
      "# seqtrain bench affinity\n\n"
      "`{command}`\n\n"
      "One training step (forward and backward through the graph executor) per point: "
      "lstm_layer (one LSTM layer, input and hidden {h}), transformer_layer (one pre-LN "
      "encoder layer of width {h}, {heads} head(s), feed-forward {ffn}), attention_op (the bare "
      "attention op); batch {b}. ms is the median of the timed steps after a warm-up step; "
      "GFLOP counts the matrix products analytically (lstm_layer 48 B T H^2, "
      "transformer_layer 72 B T H^2 + 14 B T^2 H, attention_op 14 B T^2 H); "
      "critical_path_steps: dependent steps of the step's graph (a recurrent layer counts its "
      "T steps). {elapsed:.0f} s of a {budget:.0f} s budget.\n\n"
      "## Host\n\n{host}\n## Devices\n\n{devices}\n## Results\n\n{table}\n"
      "Plots (scripts/plot_affinity.py): time_vs_length, speedup_vs_length, "
      "fraction_of_peak_vs_length (.png and .svg).\n",
      fmt::arg("command", command_line), fmt::arg("h", options.hidden),
      fmt::arg("heads", affinity_heads(options.hidden)), fmt::arg("ffn", 4 * options.hidden),
      fmt::arg("b", options.batch), fmt::arg("elapsed", report.sweep.elapsed_seconds),
      fmt::arg("budget", options.budget_seconds),
      fmt::arg("host", host_markdown(report.host, report.sweep.fma_peaks)),
      fmt::arg("devices", devices_markdown(report.sweep)),
      fmt::arg("table",
               bench_table_markdown(
                   table, {"device", "threads", "workload", "length", "status", "ms",
                           "tokens_per_s", "gflop_per_s", "fraction_of_peak", "speedup_over_serial",
                           "parallel_efficiency", "critical_path_steps", "note"})));
}

void write_affinity_report(const AffinityReport& report, const std::string& command_line,
                           const std::filesystem::path& directory) {
  create_output_directory(directory);
  write_file_atomically(directory / "results.csv", bench_table_csv(affinity_table(report)));
  write_file_atomically(directory / "results.md", affinity_markdown(report, command_line));
}

}  // namespace seqtrain
