// The metrics JSONL file and the terminal progress line.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "seqtrain/error.h"
#include "train/metrics.h"
#include "train_test_support.h"

namespace seqtrain {
namespace {

using testing::read_bytes;
using testing::TrainTestDirectory;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

TEST(MetricsLog, WritesOneFlushedJsonObjectPerLineAndAppendsOnResume) {
  TrainTestDirectory directory;
  const auto run_dir = directory.root() / "run";  // created by the log
  const nlohmann::json first = {{"step", 1}, {"loss", 2.5}, {"lr", 1e-4}, {"split", "train"}};
  const nlohmann::json second = {{"step", 2}, {"loss", 2.25}, {"note", "two\nlines"}};
  {
    MetricsLog log(run_dir);
    EXPECT_EQ(log.path(), run_dir / "metrics.jsonl");
    log.write(first);
    // Readable before the log is closed: each line is flushed.
    EXPECT_EQ(read_bytes(run_dir / "metrics.jsonl"), first.dump() + "\n");
    log.write(second);
  }
  {
    MetricsLog resumed(run_dir);
    resumed.write({{"step", 3}, {"loss", std::numeric_limits<double>::quiet_NaN()}});
  }
  const std::vector<std::string> lines = lines_of(read_bytes(run_dir / "metrics.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(lines[0]), first);
  EXPECT_EQ(nlohmann::json::parse(lines[1]), second);
  EXPECT_EQ(nlohmann::json::parse(lines[2]), (nlohmann::json{{"step", 3}, {"loss", nullptr}}));
}

// A resumed run keeps the records up to its checkpoint's step and drops the
// later ones it is about to replay (lines that are not records stay).
TEST(MetricsLog, AResumeDropsTheRecordsOfStepsItWillReplay) {
  TrainTestDirectory directory;
  const auto run_dir = directory.root() / "run";
  {
    MetricsLog log(run_dir);
    for (int step = 1; step <= 6; ++step) log.write({{"step", step}, {"split", "train"}});
    log.write({{"note", "no step"}});
  }
  {
    MetricsLog resumed(run_dir, 4);
    resumed.write({{"step", 5}, {"split", "train"}, {"again", true}});
  }
  const std::vector<std::string> lines = lines_of(read_bytes(run_dir / "metrics.jsonl"));
  std::vector<std::int64_t> steps;
  for (const std::string& line : lines) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("step")) steps.push_back(record["step"].get<std::int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  EXPECT_NE(lines.back().find("\"again\":true"), std::string::npos);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), std::string("{\"note\":\"no step\"}")), 1);
}

TEST(MetricsLog, UnwritableRunDirectoryIsAnErrorNamingIt) {
  TrainTestDirectory directory;
  testing::write_bytes(directory.root() / "file", "x");
  try {
    MetricsLog log(directory.root() / "file" / "run");
    FAIL() << "opened a log under a regular file";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("file/run"), std::string::npos) << error.what();
  }
}

// What the progress line wrote to a stream.
std::string written_by(const std::function<void(ProgressLine&)>& actions, bool enabled,
                       std::size_t width = 0) {
  std::FILE* stream = std::tmpfile();
  {
    ProgressLine line(stream, enabled, width);
    actions(line);
  }
  std::fflush(stream);
  std::rewind(stream);
  std::string text;
  for (int c; (c = std::fgetc(stream)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(stream);
  return text;
}

TEST(ProgressLine, RewritesInPlaceAndCoversLongerPreviousText) {
  const std::string text = written_by(
      [](ProgressLine& line) {
        line.update("step 1 loss 2.50");
        line.update("step 2 loss 2");
        line.clear();
        line.update("done");
        line.finish();
      },
      true);
  EXPECT_EQ(text, "\rstep 1 loss 2.50\rstep 2 loss 2   \r             \r\rdone\n");
}

TEST(ProgressLine, CutsToWidthAndEndsTheLineWhenDestroyed) {
  EXPECT_EQ(written_by([](ProgressLine& line) { line.update("0123456789"); }, true, 4), "\r0123\n");
}

TEST(ProgressLine, DisabledWritesNothing) {
  EXPECT_EQ(written_by(
                [](ProgressLine& line) {
                  line.update("step 1");
                  line.clear();
                  line.finish();
                },
                false),
            "");
}

TEST(RunClock, DurationsKeepTwoUnits) {
  EXPECT_EQ(format_duration(0.4), "0s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(2 * 3600 + 4 * 60 + 59), "2h04m");
  EXPECT_EQ(format_duration(3 * 86400 + 5 * 3600 + 1), "3d05h");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "?");
}

TEST(RunClock, RemainingTimeScalesTheStepsDoneSinceTheStart) {
  const RunClock clock(100, 300);  // resumed at step 100 of 300
  EXPECT_FALSE(clock.remaining_seconds(100).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double elapsed = clock.elapsed_seconds();
  const double remaining = *clock.remaining_seconds(110);  // 10 steps done, 190 left
  EXPECT_GE(remaining, 19.0 * elapsed * 0.999);
  EXPECT_EQ(*clock.remaining_seconds(300), 0.0);
}

}  // namespace
}  // namespace seqtrain
