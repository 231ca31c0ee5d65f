// What the data-parallel CLI tests share: seqtrain under mpirun (Open MPI as
// root on 2 oversubscribed cores), and the comparison of a run's weights with
// another's.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_test_support.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace seqtrain::testing {

// `mpirun -np ranks` with its environment (Open MPI as root, one OpenMP
// thread per rank), to put before the program and its arguments; `limit`
// seconds at most when given.
inline std::string mpirun_prefix(int ranks, int limit = 0) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
         "OMP_WAIT_POLICY=passive " +
         (limit > 0 ? "timeout " + std::to_string(limit) + " " : std::string()) +
         std::string(SEQTRAIN_MPIRUN) + " --oversubscribe -np " + std::to_string(ranks) + " ";
}

// seqtrain <arguments> under mpirun with `ranks` processes, at most 120 s.
inline CommandResult seqtrain_with_ranks(int ranks, const std::string& arguments) {
  return run_command(mpirun_prefix(ranks, 120) + SEQTRAIN_BINARY + " " + arguments + " 2>&1");
}

// Elements [first, first + count) of a flat tensor that a comparison leaves out.
struct SkippedElements {
  std::string tensor;
  std::int64_t first = 0, count = 0;
};

// Every tensor of a's model.safetensors within atol + rtol * |b| of b's, but
// the skipped elements.
inline void expect_same_weights(const std::filesystem::path& a, const std::filesystem::path& b,
                                double atol, double rtol,
                                const std::vector<SkippedElements>& skipped = {}) {
  auto left = read_safetensors(a / "model.safetensors").tensors;
  auto right = read_safetensors(b / "model.safetensors").tensors;
  ASSERT_EQ(left.size(), right.size());
  for (const SkippedElements& skip : skipped)
    for (auto* tensors : {&left, &right}) {
      ASSERT_TRUE(tensors->contains(skip.tensor)) << skip.tensor;
      auto values = tensors->at(skip.tensor).span<float>();
      std::fill_n(values.begin() + skip.first, skip.count, 0.0f);
    }
  for (const auto& [name, value] : left)
    EXPECT_TRUE(tensors_close(right.at(name), value, atol, rtol)) << name;
}

inline std::vector<nlohmann::json> read_metrics_records(const std::filesystem::path& run) {
  std::ifstream file(run / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(file, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

// The records of one split ("train" or "validation"), in order.
inline std::vector<nlohmann::json> records_of(const std::filesystem::path& run,
                                              const std::string& split) {
  std::vector<nlohmann::json> chosen;
  for (const nlohmann::json& record : read_metrics_records(run))
    if (record.at("split") == split) chosen.push_back(record);
  return chosen;
}

}  // namespace seqtrain::testing
