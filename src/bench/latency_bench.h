// `seqtrain bench latency`: the other side of the affinity comparison. The
// time to produce the next output for a growing prefix, one token at a time
// (a language model's generation), per prefix length P and device, for
//   lstm_step             an LSTM model's step of one token, carrying its
//                         state (h, c) from the step before: the same work
//                         at every P (tasks/sampling.cc's carried state)
//   transformer_reencode  a causal Transformer that re-encodes the whole
//                         prefix every token (one graph of P steps; its last
//                         position's logits)
//   transformer_kv_cache  the same Transformer with a key/value cache: one
//                         new position attending over the cached keys and
//                         values of the P - 1 before it
//                         (models/transformer_decode_step.h)
// Every method is a charlm model of width H (embedding H, vocabulary 96,
// `layers` layers; the Transformer's heads as in the affinity bench, its
// feed-forward 4H), forward only, batch B, and a step ends when its logits
// are on the host (where a sampler reads them). The cache a timed
// kv-cache step reads holds random values (the time does not depend on
// them; tests/transformer_decode_step_test.cc checks the outputs), and each
// timed step appends to it as the graph does, without keeping the grown copy.
//
// FLOPs (forward, 2 per multiply-add, matrix products only; L layers, V the
// vocabulary, P the prefix):
//   lstm_step             16 B L H^2 + 2 B H V
//   transformer_reencode  24 B P L H^2 + 2 B L H P (P + 1) + 2 B P H V
//                         (causal: P (P + 1) / 2 query-key pairs, 4H each)
//   transformer_kv_cache  24 B L H^2 + 4 B L P H + 2 B H V
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_table.h"
#include "bench/device_sweep.h"
#include "bench/host_info.h"

namespace seqtrain {

enum class LatencyMethod { lstm_step, transformer_reencode, transformer_kv_cache };
inline constexpr LatencyMethod kLatencyMethods[] = {LatencyMethod::lstm_step,
                                                    LatencyMethod::transformer_reencode,
                                                    LatencyMethod::transformer_kv_cache};
const char* latency_method_name(LatencyMethod method);

struct LatencyOptions {
  std::vector<std::string> devices = {"serial", "cpu", "cuda"};
  std::vector<int> threads;
  std::vector<std::int64_t> lengths = {16, 32, 64, 128, 256, 512, 1024};  // prefix lengths P
  std::int64_t hidden = 256;
  std::int64_t batch = 1;
  int layers = 1;
  double budget_seconds = 120;
  std::uint64_t seed = 1;
};

inline constexpr int kLatencyVocabulary = 96;

// The forward FLOPs of producing one token at prefix length P (above).
double latency_token_flop(LatencyMethod method, const LatencyOptions& options, std::int64_t prefix);

struct LatencyReport {
  LatencyOptions options;
  HostInfo host;
  SweepResult sweep;  // a point's series indexes kLatencyMethods, its length is P
};

LatencyReport run_latency_bench(const LatencyOptions& options);
BenchTable latency_table(const LatencyReport& report);
std::string latency_markdown(const LatencyReport& report, const std::string& command_line);
void write_latency_report(const LatencyReport& report, const std::string& command_line,
                          const std::filesystem::path& directory);

}  // namespace seqtrain
