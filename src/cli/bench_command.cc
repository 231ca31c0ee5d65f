// seqtrain bench affinity | latency: the hardware-affinity comparison of the
// recurrent and attention families (src/bench/affinity_bench.h) and their
// per-token latency when producing output for a growing prefix
// (src/bench/latency_bench.h). Each writes results.csv and results.md into
// --out; affinity also draws its plots with scripts/plot_affinity.py
// (matplotlib, the python3 on PATH or $SEQTRAIN_PYTHON).
#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/affinity_bench.h"
#include "bench/bench_devices.h"
#include "bench/latency_bench.h"
#include "cli/commands.h"
#include "cli/python_script.h"
#include "seqtrain/cpu_threads.h"

namespace seqtrain {
namespace {

constexpr const char* kDeviceWords = "serial, cpu, cuda or cuda:N, comma-separated";
constexpr std::int64_t kMaxLength = 1 << 20;

// The flags both benchmarks share, as given on the command line.
struct SweepFlags {
  std::string devices = "serial,cpu,cuda";
  std::string threads;
  std::string lengths = "16,32,64,128,256,512,1024";
  std::int64_t hidden = 256;
  std::int64_t batch = 0;
  double budget_seconds = 0;
  std::string out;
};

void add_sweep_flags(CLI::App* command, SweepFlags& flags, const std::string& lengths_help) {
  command->add_option("--devices", flags.devices, std::string("Devices: ") + kDeviceWords)
      ->capture_default_str();
  command->add_option("--threads", flags.threads,
                      "cpu thread counts, comma-separated (default: 1 and one per core)");
  command->add_option("--lengths", flags.lengths, lengths_help)->capture_default_str();
  command->add_option("--hidden", flags.hidden, "Layer width H (a multiple of 32)")
      ->check(integer_at_least(32))
      ->capture_default_str();
  command->add_option("--batch", flags.batch, "Sequences per step")
      ->check(integer_at_least(1))
      ->capture_default_str();
  command
      ->add_option("--budget-seconds", flags.budget_seconds,
                   "Seconds for the whole sweep; points predicted not to fit are skipped")
      ->check(positive_finite_number())
      ->capture_default_str();
  command->add_option("--out", flags.out, "Output directory (results.csv, results.md, plots)")
      ->capture_default_str();
}

std::vector<int> thread_counts(const SweepFlags& flags) {
  std::vector<int> counts;
  const std::string text =
      flags.threads.empty() ? fmt::format("1,{}", omp_get_num_procs()) : flags.threads;
  for (std::int64_t count : parse_integer_list("--threads", text, 1, kMaxCpuThreads))
    counts.push_back(static_cast<int>(count));
  return counts;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

template <typename T>
std::string join_numbers(const std::vector<T>& numbers) {
  std::string text;
  for (T number : numbers) text += fmt::format("{}{}", text.empty() ? "" : ",", number);
  return text;
}

// The flags both sweeps take, checked (one-line errors naming the flag) and
// copied into their options.
template <class Options>
Options sweep_options(const SweepFlags& flags) {
  Options options;
  options.devices = parse_name_list("--devices", flags.devices, is_bench_device, kDeviceWords);
  options.threads = thread_counts(flags);
  options.lengths = parse_integer_list("--lengths", flags.lengths, 1, kMaxLength);
  options.hidden = flags.hidden;
  affinity_heads(options.hidden);  // a ConfigError naming --hidden
  options.batch = flags.batch;
  options.budget_seconds = flags.budget_seconds;
  return options;
}

int run_affinity(const SweepFlags& flags, bool plots) {
  const auto options = sweep_options<AffinityOptions>(flags);
  const std::string command_line = fmt::format(
      "seqtrain bench affinity --devices {} --threads {} --lengths {} --hidden {} --batch {} "
      "--budget-seconds {} --out {}",
      join(options.devices), join_numbers(options.threads), join_numbers(options.lengths),
      options.hidden, options.batch, options.budget_seconds, flags.out);
  const AffinityReport report = run_affinity_bench(options);
  write_affinity_report(report, command_line, flags.out);
  fmt::print("bench affinity: {} points in {:.0f} s; wrote {}/results.csv and results.md\n",
             report.sweep.points.size(), report.sweep.elapsed_seconds, flags.out);
  if (!plots) return 0;
  return run_python_script(find_script("plot_affinity.py", "SEQTRAIN_PLOT_AFFINITY_SCRIPT"),
                           {"--out", flags.out, flags.out + "/results.csv"});
}

int run_latency(const SweepFlags& flags, int layers) {
  auto options = sweep_options<LatencyOptions>(flags);
  options.layers = layers;
  const std::string command_line = fmt::format(
      "seqtrain bench latency --devices {} --threads {} --lengths {} --hidden {} --batch {} "
      "--layers {} --budget-seconds {} --out {}",
      join(options.devices), join_numbers(options.threads), join_numbers(options.lengths),
      options.hidden, options.batch, options.layers, options.budget_seconds, flags.out);
  const LatencyReport report = run_latency_bench(options);
  write_latency_report(report, command_line, flags.out);
  fmt::print("bench latency: {} points in {:.0f} s; wrote {}/results.csv and results.md\n",
             report.sweep.points.size(), report.sweep.elapsed_seconds, flags.out);
  return 0;
}

}  // namespace

void register_bench_command(CLI::App& app, CommandRegistry& commands) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Measure how the recurrent and attention families meet the hardware");
  bench->require_subcommand(1);

  auto affinity_flags = std::make_shared<SweepFlags>();
  affinity_flags->batch = 8;
  affinity_flags->budget_seconds = 180;
  affinity_flags->out = "bench_affinity";
  CLI::App* affinity = bench->add_subcommand(
      "affinity",
      "Time a training step of an LSTM layer, a Transformer encoder layer and the attention op "
      "over sequence lengths on each device and thread count");
  add_sweep_flags(affinity, *affinity_flags, "Sequence lengths T, comma-separated");
  auto no_plots = std::make_shared<bool>(false);
  affinity->add_flag("--no-plots", *no_plots,
                     "Write the table only (the plots need python3 with matplotlib)");
  commands.add(affinity,
               [affinity_flags, no_plots] { return run_affinity(*affinity_flags, !*no_plots); });

  auto latency_flags = std::make_shared<SweepFlags>();
  latency_flags->batch = 1;
  latency_flags->budget_seconds = 120;
  latency_flags->out = "bench_latency";
  auto layers = std::make_shared<int>(1);
  CLI::App* latency = bench->add_subcommand(
      "latency",
      "Time producing the next token for a growing prefix: an LSTM step with its state vs a "
      "causal Transformer re-encoding the prefix vs one with a key/value cache");
  add_sweep_flags(latency, *latency_flags, "Prefix lengths P, comma-separated");
  latency->add_option("--layers", *layers, "Layers of each model")
      ->check(integer_at_least(1))
      ->capture_default_str();
  commands.add(latency, [latency_flags, layers] { return run_latency(*latency_flags, *layers); });
}

}  // namespace seqtrain
