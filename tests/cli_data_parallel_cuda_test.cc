// Data parallel on --device cuda: `mpirun -np 2 seqtrain train ... --device
// cuda` sums the gradients with NCCL on the device. Here the CUDA backend is
// the emulated device's plug-in (libseqtrain_cuda_emu.so, named by
// SEQTRAIN_CUDA_PLUGIN) and its NCCL calls travel between the two processes
// over MPI (kernels/emu/runtime/emulated_nccl.cc): 2 ranks train the model
// one process trains on the same emulated device, within the tolerance that
// summation order alone explains (cli_data_parallel_test.cc says why), with
// and without gradient accumulation, and with dropout drawn per global row.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "data_parallel_test_support.h"
#include "io/read_file.h"
#include "test_directory.h"

namespace seqtrain::testing {
namespace {

namespace fs = std::filesystem;

class DataParallelCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(SEQTRAIN_MPIRUN).empty()) GTEST_SKIP() << "no mpirun in this build";
    if (std::string(SEQTRAIN_CUDA_EMULATED_PLUGIN).empty())
      GTEST_SKIP() << "no emulated CUDA plug-in with NCCL in this build";
  }

  static std::string emulated_device() {
    return "SEQTRAIN_CUDA_PLUGIN=" + std::string(SEQTRAIN_CUDA_EMULATED_PLUGIN);
  }

  // Both runs on the emulated device's plug-in, compared after kSteps steps
  // within the CPU tests' tolerance (summation order).
  static RankComparison on_the_emulated_device() {
    RankComparison how;
    how.device = "cuda";
    how.environment = emulated_device();
    how.steps = kSteps;
    return how;
  }

  fs::path write_config(const std::string& name, int accumulation, const std::string& model) {
    const fs::path path = directory_.root() / name;
    std::ofstream(path) << "task: adding\nseed: 5\nthreads: 1\nmodel: " << model
                        << "\ndata: {sequence_length: 12, batch_size: 8, validation_size: 16}\n"
                           "training: {steps: "
                        << kSteps
                        << ", eval_every: 5, log_every: 1, checkpoint_every: 0, "
                           "gradient_accumulation: "
                        << accumulation
                        << ", optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 2}}\n";
    return path;
  }

  static constexpr std::int64_t kSteps = 10;
  TestDirectory directory_;
};

TEST_F(DataParallelCuda, TwoRanksWithNcclTrainTheModelOneProcessTrains) {
  for (int accumulation : {1, 2}) {
    SCOPED_TRACE("gradient_accumulation " + std::to_string(accumulation));
    const std::string name = "lstm" + std::to_string(accumulation);
    expect_two_ranks_train_what_one_trains(
        directory_.root(),
        write_config(name + ".yaml", accumulation, "{cell: lstm, hidden_size: 16}"), name,
        on_the_emulated_device());
    const std::string log = read_file(directory_.root() / name / "two" / "train.log");
    EXPECT_NE(log.find("gradients on the device: NCCL 2."), std::string::npos) << log;
    EXPECT_NE(log.find(", 2 ranks, device 0"), std::string::npos) << log;
    EXPECT_NE(log.find("world size 2"), std::string::npos) << log;
  }
}

TEST_F(DataParallelCuda, DropoutDrawsTheMasksOneProcessDraws) {
  expect_two_ranks_train_what_one_trains(
      directory_.root(),
      write_config("dropout.yaml", 1, "{cell: lstm, hidden_size: 16, layers: 2, dropout: 0.3}"),
      "dropout", on_the_emulated_device());
}

// An NCCL collective of rank 1 that never finishes, or fails
// asynchronously (the emulated NCCL's SEQTRAIN_EMULATED_NCCL_FAULT: rank 1's
// third ncclAllReduce, inside step 1's bucket): after distributed.timeout_s,
// or at once, rank 1 aborts NCCL and ends the job in one line naming the
// collective and itself; rank 0, waiting for it inside the collective, is
// ended with the job (MPI_Abort).
TEST_F(DataParallelCuda, AnNcclCollectiveThatHangsOrFailsEndsTheJobInOneLine) {
  const fs::path config = write_config("c.yaml", 1, "{cell: lstm, hidden_size: 16}");
  const struct {
    const char* fault;
    const char* why;
  } cases[] = {
      {"stall",
       "not finished after 2 s (distributed.timeout_s): another rank is hung, stopped or "
       "gone; NCCL communicator aborted"},
      {"fail",
       "NCCL reported 6 (remote process exited or there was a network error); NCCL "
       "communicator aborted"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fault);
    const CommandResult ended = seqtrain_with_ranks(
        2,
        "train " + config.string() + " --device cuda --set distributed.timeout_s=2 --set run_dir=" +
            (directory_.root() / c.fault).string(),
        emulated_device() + " SEQTRAIN_EMULATED_NCCL_FAULT=1:3:" + c.fault);
    EXPECT_NE(ended.exit_code, 0) << ended.output;
    EXPECT_NE(ended.output.find("seqtrain: error: rank 1 of 2: NCCL all-reduce of "),
              std::string::npos)
        << ended.output;
    // The bucket: the LSTM's 6 parameters, 1297 floats.
    EXPECT_NE(
        ended.output.find("1297 floats in 6 buffers on rank 1 of 2: " + std::string(c.why) + "\n"),
        std::string::npos)
        << ended.output;
  }
}

TEST_F(DataParallelCuda, InfoNamesNcclInThePlugIn) {
  const CommandResult info = run_seqtrain("info", true, emulated_device());
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("nccl:      NCCL 2."), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("(CUDA plug-in): data parallel on --device cuda under mpirun"),
            std::string::npos)
      << info.output;
}

}  // namespace
}  // namespace seqtrain::testing
