// What the data-parallel CLI tests share: seqtrain under mpirun (Open MPI as
// root on 2 oversubscribed cores), and the comparison of a run's weights with
// another's.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
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

// seqtrain <arguments> under mpirun with `ranks` processes, at most 120 s,
// with `environment` ("NAME=value ...") for every rank.
inline CommandResult seqtrain_with_ranks(int ranks, const std::string& arguments,
                                         const std::string& environment = "") {
  return run_command(environment + " " + mpirun_prefix(ranks, 120) + SEQTRAIN_BINARY + " " +
                     arguments + " 2>&1");
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

// How expect_ranks_train_what_one_trains runs and compares the two runs.
struct RankComparison {
  std::string device = "cpu";       // --device
  std::string environment;          // for both runs ("NAME=value ...")
  std::int64_t steps = 20;          // the checkpoint compared is step_<steps>
  double atol = 1e-5, rtol = 1e-4;  // the weights'
  std::vector<SkippedElements> skipped;
};

// Trains config in one process and on 2 ranks (run directories one/ and two/
// under `root / name`) and expects the same weights (within the tolerance),
// the same training losses (1e-5 relative) and the same validation mse (1e-4
// relative: rank 0 alone validates, on the whole set).
inline void expect_two_ranks_train_what_one_trains(const std::filesystem::path& root,
                                                   const std::filesystem::path& config,
                                                   const std::string& name,
                                                   const RankComparison& how = {}) {
  const std::filesystem::path one = root / name / "one";
  const std::filesystem::path two = root / name / "two";
  const std::string device = " --device " + how.device + " --set run_dir=";
  const CommandResult alone =
      run_seqtrain("train " + config.string() + device + one.string(), true, how.environment);
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  const CommandResult ranks =
      seqtrain_with_ranks(2, "train " + config.string() + device + two.string(), how.environment);
  ASSERT_EQ(ranks.exit_code, 0) << ranks.output;
  const std::string checkpoint = "step_" + std::to_string(how.steps);
  expect_same_weights(one / "checkpoints" / checkpoint, two / "checkpoints" / checkpoint, how.atol,
                      how.rtol, how.skipped);
  const auto losses_one = records_of(one, "train"), losses_two = records_of(two, "train");
  ASSERT_EQ(losses_one.size(), losses_two.size());
  for (std::size_t i = 0; i < losses_one.size(); ++i)
    EXPECT_NEAR(losses_two[i].at("loss").get<double>(), losses_one[i].at("loss").get<double>(),
                1e-5 * std::abs(losses_one[i].at("loss").get<double>()))
        << "step " << i + 1;
  const auto validation_one = records_of(one, "validation"),
             validation_two = records_of(two, "validation");
  ASSERT_EQ(validation_one.size(), validation_two.size());
  for (std::size_t i = 0; i < validation_one.size(); ++i)
    EXPECT_NEAR(validation_two[i].at("mse").get<double>(),
                validation_one[i].at("mse").get<double>(),
                1e-4 * std::abs(validation_one[i].at("mse").get<double>()));
}

}  // namespace seqtrain::testing
