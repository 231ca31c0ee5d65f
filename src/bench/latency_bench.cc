#include "bench/latency_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "bench/affinity_workloads.h"
#include "io/atomic_write.h"
#include "models/sequence_model.h"
#include "models/transformer_decode_step.h"
#include "seqtrain/executor.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

LatencyMethod method_of(int series) {
  return kLatencyMethods[static_cast<std::size_t>(series)];
}

SequenceModelSpec model_spec(const LatencyOptions& options, ModelType type) {
  SequenceModelSpec spec;
  spec.task = Task::charlm;
  spec.type = type;
  spec.layers = options.layers;
  spec.hidden_size = static_cast<int>(options.hidden);
  spec.vocabulary_size = kLatencyVocabulary;
  spec.embedding_size = static_cast<int>(options.hidden);
  spec.output_size = kLatencyVocabulary;
  spec.heads = static_cast<int>(affinity_heads(options.hidden));
  spec.intermediate_size = static_cast<int>(4 * options.hidden);
  spec.max_positions =
      static_cast<int>(*std::max_element(options.lengths.begin(), options.lengths.end()));
  return spec;
}

Tensor random_tokens(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed, 77);
  Tensor tokens = Tensor::empty(shape, DType::i32);
  for (std::int32_t& id : tokens.span<std::int32_t>())
    id = static_cast<std::int32_t>(rng.next_uniform() * kLatencyVocabulary) % kLatencyVocabulary;
  return tokens;
}

Tensor filled_i32(const Shape& shape, std::int64_t value) {
  Tensor tensor = Tensor::empty(shape, DType::i32);
  for (std::int32_t& element : tensor.span<std::int32_t>())
    element = static_cast<std::int32_t>(value);
  return tensor;
}

RunContext inference() {
  RunContext context;
  context.training = false;
  return context;
}

// An LSTM model's step of one token per sequence, carrying (h, c) to the
// next step through the host as tasks/sampling.cc does.
StepTiming time_lstm_step(Backend& backend, const LatencyOptions& options,
                          BenchClock::time_point deadline) {
  ParameterStore store(backend);
  const std::unique_ptr<SequenceModel> model =
      make_sequence_model(model_spec(options, ModelType::lstm), store, options.seed);
  GraphShape shape;
  shape.batch = static_cast<int>(options.batch);
  shape.with_state = true;
  shape.with_targets = false;
  ModelGraph built = model->build_graph(shape);
  Executor executor(std::move(built.graph), backend, store, false);
  for (ValueId state : built.initial_states) backend.fill_zero(executor.input(state));
  const Tensor tokens = random_tokens({1, options.batch}, options.seed);
  const Tensor lengths = filled_i32({options.batch}, 1);
  return time_steps(
      [&] {
        model->bind_inputs(executor, {{model_io::kTokens, tokens}, {model_io::kLengths, lengths}});
        executor.forward(inference());
        for (std::size_t i = 0; i < built.initial_states.size(); ++i)
          backend.copy_from_host(executor.value_to_host(built.final_states[i]),
                                 executor.input(built.initial_states[i]));
        static_cast<void>(executor.value_to_host(built.output));
      },
      deadline);
}

// The causal Transformer re-encoding a prefix of P tokens (a graph of P steps).
StepTiming time_transformer_reencode(Backend& backend, const LatencyOptions& options,
                                     std::int64_t prefix, BenchClock::time_point deadline) {
  ParameterStore store(backend);
  const std::unique_ptr<SequenceModel> model =
      make_sequence_model(model_spec(options, ModelType::transformer), store, options.seed);
  GraphShape shape;
  shape.batch = static_cast<int>(options.batch);
  shape.length = static_cast<int>(prefix);
  shape.with_targets = false;
  ModelGraph built = model->build_graph(shape);
  Executor executor(std::move(built.graph), backend, store, false);
  const Tensor tokens = random_tokens({prefix, options.batch}, options.seed);
  const Tensor lengths = filled_i32({options.batch}, prefix);
  return time_steps(
      [&] {
        model->bind_inputs(executor, {{model_io::kTokens, tokens}, {model_io::kLengths, lengths}});
        executor.forward(inference());
        static_cast<void>(executor.value_to_host(built.output));
      },
      deadline);
}

// One new position attending over a cache of the P - 1 before it.
StepTiming time_transformer_kv_cache(Backend& backend, const LatencyOptions& options,
                                     std::int64_t prefix, BenchClock::time_point deadline) {
  ParameterStore store(backend);
  const SequenceModelSpec spec = model_spec(options, ModelType::transformer);
  const std::unique_ptr<SequenceModel> model = make_sequence_model(spec, store, options.seed);
  DecodeStepGraph built = build_transformer_decode_step(spec, options.batch, prefix - 1);
  const ValueId logits = built.logits;
  Executor executor(std::move(built.graph), backend, store, false);
  if (prefix > 1) {
    const std::int64_t heads = spec.heads, head_dim = spec.hidden_size / spec.heads;
    std::uint64_t stream = 0;
    for (int layer = 0; layer < spec.layers; ++layer)
      for (bool keys : {true, false}) {
        Rng rng(options.seed, stream++);
        executor.set_input(
            decode_cache_input(layer, keys),
            uniform_tensor({options.batch * heads, head_dim, prefix - 1}, 1.0f, rng));
      }
  }
  const Tensor tokens = random_tokens({1, options.batch}, options.seed);
  const Tensor position = filled_i32({1, options.batch}, prefix - 1);
  return time_steps(
      [&] {
        executor.set_input(model_io::kTokens, tokens);
        executor.set_input(kDecodePosition, position);
        executor.forward(inference());
        static_cast<void>(executor.value_to_host(logits));
      },
      deadline);
}

}  // namespace

const char* latency_method_name(LatencyMethod method) {
  switch (method) {
    case LatencyMethod::lstm_step: return "lstm_step";
    case LatencyMethod::transformer_reencode: return "transformer_reencode";
    case LatencyMethod::transformer_kv_cache: return "transformer_kv_cache";
  }
  return "?";
}

double latency_token_flop(LatencyMethod method, const LatencyOptions& options,
                          std::int64_t prefix) {
  const double b = static_cast<double>(options.batch), h = static_cast<double>(options.hidden),
               l = options.layers, v = kLatencyVocabulary, p = static_cast<double>(prefix);
  switch (method) {
    case LatencyMethod::lstm_step: return 16 * b * l * h * h + 2 * b * h * v;
    case LatencyMethod::transformer_reencode:
      return 24 * b * p * l * h * h + 2 * b * l * h * p * (p + 1) + 2 * b * p * h * v;
    case LatencyMethod::transformer_kv_cache:
      return 24 * b * l * h * h + 4 * b * l * p * h + 2 * b * h * v;
  }
  return 0;
}

LatencyReport run_latency_bench(const LatencyOptions& options) {
  LatencyReport report;
  report.options = options;
  report.host = describe_host();
  SweepSpec spec;
  spec.name = "bench latency";
  spec.devices = options.devices;
  spec.threads = options.threads;
  spec.lengths = options.lengths;
  for (LatencyMethod method : kLatencyMethods) spec.series.push_back(latency_method_name(method));
  spec.budget_seconds = options.budget_seconds;
  spec.flop = [&](int series, std::int64_t prefix) {
    return latency_token_flop(method_of(series), options, prefix);
  };
  spec.measure = [&](Backend& backend, int series, std::int64_t prefix,
                     BenchClock::time_point deadline) {
    switch (method_of(series)) {
      case LatencyMethod::lstm_step: return time_lstm_step(backend, options, deadline);
      case LatencyMethod::transformer_reencode:
        return time_transformer_reencode(backend, options, prefix, deadline);
      case LatencyMethod::transformer_kv_cache:
        return time_transformer_kv_cache(backend, options, prefix, deadline);
    }
    return StepTiming{};
  };
  report.sweep = run_device_sweep(spec);
  report.host.load_after = take_load_average();
  return report;
}

BenchTable latency_table(const LatencyReport& report) {
  BenchTable table;
  table.columns = {"device",
                   "threads",
                   "method",
                   "prefix_length",
                   "batch",
                   "hidden",
                   "layers",
                   "status",
                   "ms_per_token",
                   "tokens_per_s",
                   "gflop",
                   "gflop_per_s",
                   "peak_gflop_per_s",
                   "fraction_of_peak",
                   "speedup_over_serial",
                   "parallel_efficiency",
                   "repeats",
                   "note"};
  const LatencyOptions& options = report.options;
  for (const BenchPoint& point : report.sweep.points) {
    const bool measured = point.status == PointStatus::measured;
    const DerivedFigures figures = derive_figures(report.sweep.points, point);
    table.rows.push_back(
        {point.device, point.threads > 0 ? std::to_string(point.threads) : "",
         latency_method_name(method_of(point.series)), std::to_string(point.length),
         std::to_string(options.batch), std::to_string(options.hidden),
         std::to_string(options.layers), point_status_name(point.status), figures.ms,
         measured ? fmt::format("{:.4g}", static_cast<double>(options.batch) / point.seconds) : "",
         fmt::format("{:.4g}", point.flop * 1e-9), figures.gflop_per_s, figures.peak_gflop_per_s,
         figures.fraction_of_peak, figures.speedup_over_serial, figures.parallel_efficiency,
         measured ? std::to_string(point.repeats) : "", point.note});
  }
  return table;
}

std::string latency_markdown(const LatencyReport& report, const std::string& command_line) {
  const LatencyOptions& options = report.options;
  BenchTable table = latency_table(report);
  drop_unavailable_rows(table);
  return fmt::format(
      "# seqtrain bench latency\n\n"
      "`{command}`\n\n"
      "The time to produce the next token's logits (on the host) for a prefix of P tokens, "
      "batch {b}, charlm models of width {h}, {layers} layer(s), vocabulary {v}: lstm_step (one "
      "LSTM step carrying its state), transformer_reencode (a causal Transformer, {heads} head(s), "
      "feed-forward {ffn}, re-encoding the P tokens), transformer_kv_cache (the same model, "
      "one new position over cached keys and values). ms_per_token is the median of the timed "
      "steps after a warm-up step; GFLOP counts the forward matrix products analytically "
      "(src/bench/latency_bench.h). {elapsed:.0f} s of a {budget:.0f} s budget.\n\n"
      "## Host\n\n{host}\n## Devices\n\n{devices}\n## Results\n\n{table}",
      fmt::arg("command", command_line), fmt::arg("b", options.batch),
      fmt::arg("h", options.hidden), fmt::arg("layers", options.layers),
      fmt::arg("v", kLatencyVocabulary), fmt::arg("heads", affinity_heads(options.hidden)),
      fmt::arg("ffn", 4 * options.hidden), fmt::arg("elapsed", report.sweep.elapsed_seconds),
      fmt::arg("budget", options.budget_seconds),
      fmt::arg("host", host_markdown(report.host, report.sweep.fma_peaks)),
      fmt::arg("devices", devices_markdown(report.sweep)),
      fmt::arg("table",
               bench_table_markdown(table, {"device", "threads", "method", "prefix_length",
                                            "status", "ms_per_token", "tokens_per_s", "gflop_per_s",
                                            "fraction_of_peak", "speedup_over_serial", "note"})));
}

void write_latency_report(const LatencyReport& report, const std::string& command_line,
                          const std::filesystem::path& directory) {
  create_output_directory(directory);
  write_file_atomically(directory / "results.csv", bench_table_csv(latency_table(report)));
  write_file_atomically(directory / "results.md", latency_markdown(report, command_line));
}

}  // namespace seqtrain
