// Faults of a data-parallel run (mpirun -np 2 seqtrain train), seconds each:
// SIGTERM to the ranks or to mpirun stops every rank at the same step with one
// resumable checkpoint (exit code 130 through mpirun when the ranks were
// signalled; Open MPI's 1 when mpirun was); a rank killed with SIGKILL mid-run
// ends the job (non-zero, well within 60 s) with a message naming it, and the
// last checkpoint resumes in one process; a rank that stops without dying
// ends the job after distributed.timeout_s.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "data_parallel_test_support.h"
#include "io/read_file.h"
#include "test_directory.h"

namespace seqtrain::testing {
namespace {

namespace fs = std::filesystem;

class DataParallelFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(SEQTRAIN_MPIRUN).empty()) GTEST_SKIP() << "no mpirun in this build";
    config_ = directory_.root() / "c.yaml";
    run_ = directory_.root() / "run";
    // Steps enough to outlast the test; checkpoints every 5 steps.
    std::ofstream(config_) << "task: adding\nseed: 5\nthreads: 1\nrun_dir: " << run_.string()
                           << "\nmodel: {cell: lstm, hidden_size: 16}\n"
                              "data: {sequence_length: 20, batch_size: 8, validation_size: 16}\n"
                              "training: {steps: 100000, eval_every: 0, log_every: 1, "
                              "checkpoint_every: 5, optimizer: {learning_rate: 0.01}}\n";
  }

  // A shell script that starts the 2-rank run in the background, waits until
  // it has logged step 12 (at most 60 s), then runs `fault` (with $job the
  // mpirun's PID) and prints the job's exit code and how long it took to end.
  std::string launch_then(const std::string& fault, const std::string& settings = "") const {
    const std::string metrics = (run_ / "metrics.jsonl").string();
    return "bash -c '" + mpirun_prefix(2) + SEQTRAIN_BINARY + " train " + config_.string() +
           " --device cpu" + settings + " > " + (directory_.root() / "job.log").string() +
           " 2>&1 & job=$!; "
           "for i in $(seq 600); do grep -q \"\\\"step\\\":12,\" " +
           metrics + " 2>/dev/null && break; sleep 0.1; done; " + fault +
           "; start=$(date +%s); "
           "for i in $(seq 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done; "
           "kill -0 $job 2>/dev/null && { pkill -KILL -P $job; kill -KILL $job; }; "
           "wait $job; echo \"exit $? after $(( $(date +%s) - start )) s\"'";
  }

  // The job's exit code from launch_then's output.
  static int job_exit_code(const std::string& output) {
    std::smatch match;
    EXPECT_TRUE(std::regex_search(output, match, std::regex("exit (\\d+) after (\\d+) s")))
        << output;
    return match.empty() ? -1 : std::stoi(match[1]);
  }

  fs::path config_, run_;
  TestDirectory directory_;
};

// Every rank stopped at the step rank 0 logged, with a checkpoint there that
// resumes in one process.
void expect_every_rank_stopped_at_one_checkpointed_step(const fs::path& run,
                                                        const std::string& job_log) {
  const std::string log = read_file(run / "train.log");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(log, match, std::regex("stopped[^\\n]* at step (\\d+)\\n")))
      << log << job_log;
  const std::string step = match[1];
  // Rank 1 names the same step (its own signal, or rank 0's when that came first).
  EXPECT_TRUE(
      std::regex_search(job_log, std::regex("rank 1 of 2: stopped[^\\n]* at step " + step + "\\n")))
      << job_log;
  EXPECT_TRUE(fs::exists(run / "checkpoints" / ("step_" + step) / "trainer_state.json"));
  EXPECT_EQ(records_of(run, "train").back().at("step"), std::stoi(step));
  const CommandResult resumed =
      run_seqtrain("train --resume " + run.string() +
                   " --device cpu --set training.steps=" + std::to_string(std::stoi(step) + 2));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("at step " + step), std::string::npos) << resumed.output;
}

// A batch system's way (Slurm's scancel signals every task): each rank gets
// SIGTERM, they agree on the step, rank 0 saves, and mpirun passes on 130.
TEST_F(DataParallelFaults, SigtermToEveryRankStopsThemAtOneStepWithExitCode130) {
  const CommandResult result = run_command(launch_then("kill -TERM $(pgrep -P $job)"));
  const std::string job_log = read_file(directory_.root() / "job.log");
  EXPECT_EQ(job_exit_code(result.output), 130) << result.output << job_log;
  expect_every_rank_stopped_at_one_checkpointed_step(run_, job_log);
}

// SIGTERM to mpirun: Open MPI sends SIGTERM to every rank (SIGKILL 1 s later
// unless --mca odls_base_sigkill_timeout says otherwise); they stop as above,
// but mpirun itself exits 1 whatever the ranks return (Open MPI 4.1 for a job
// it was told to abort; docs/distributed.md).
TEST_F(DataParallelFaults, SigtermToMpirunStopsEveryRankAtOneStepWithOneCheckpoint) {
  const CommandResult result = run_command(launch_then("kill -TERM $job"));
  const std::string job_log = read_file(directory_.root() / "job.log");
  EXPECT_NE(job_exit_code(result.output), 0) << result.output << job_log;
  expect_every_rank_stopped_at_one_checkpointed_step(run_, job_log);
}

TEST_F(DataParallelFaults, AKilledRankEndsTheJobNamingItAndTheLastCheckpointResumes) {
  // Rank 1 is the child of mpirun whose environment says so.
  const CommandResult result = run_command(launch_then(
      "for p in $(pgrep -P $job); do grep -qz \"^OMPI_COMM_WORLD_RANK=1$\" /proc/$p/environ && "
      "kill -KILL $p; done"));
  const std::string job_log = read_file(directory_.root() / "job.log");
  EXPECT_NE(job_exit_code(result.output), 0) << result.output << job_log;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(result.output, match, std::regex("after (\\d+) s")));
  EXPECT_LT(std::stoi(match[1]), 60);
  EXPECT_NE(job_log.find("rank 1"), std::string::npos) << job_log;
  // The last checkpoint resumes in one process.
  const CommandResult resumed =
      run_seqtrain("train --resume " + run_.string() + " --device cpu --set training.steps=40");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(run_ / "checkpoints" / "step_40"));
}

// A rank that stops (SIGSTOP: alive, never reaching the next collective)
// leaves rank 0 waiting in an all-reduce until distributed.timeout_s, when
// rank 0 names itself and the wait and exits, and mpirun ends the job.
TEST_F(DataParallelFaults, AStoppedRankEndsTheJobAfterTheCollectiveTimeout) {
  const CommandResult result =
      run_command(launch_then("for p in $(pgrep -P $job); do grep -qz \"^OMPI_COMM_WORLD_RANK=1$\" "
                              "/proc/$p/environ && kill -STOP $p; done",
                              " --set distributed.timeout_s=3"));
  const std::string job_log = read_file(directory_.root() / "job.log");
  EXPECT_NE(job_exit_code(result.output), 0) << result.output << job_log;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(result.output, match, std::regex("after (\\d+) s")));
  EXPECT_LT(std::stoi(match[1]), 60);
  EXPECT_TRUE(std::regex_search(
      job_log, std::regex("rank 0 of 2 waited 3 s in an all-reduce[^\\n]* for the other ranks "
                          "\\(distributed.timeout_s\\)")))
      << job_log;
}

}  // namespace
}  // namespace seqtrain::testing
