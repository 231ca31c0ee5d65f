// What a run reports while it trains: a JSON Lines file for tools and plots,
// and a one-line progress display for a person watching the terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace seqtrain {

// <run_dir>/metrics.jsonl: one JSON object per line, each line flushed as it is
// written so a crash loses nothing already reported. Opening appends, so a
// resumed run continues the same file; it passes the step of the checkpoint it
// resumed from, and the records of later steps (written before the
// interruption, about to be replayed) are dropped first, so no step appears
// twice. Non-finite numbers are written as null (JSON has no NaN).
class MetricsLog {
 public:
  // Creates run_dir when needed; failures are seqtrain::Error naming the file.
  // keep_through_step: drop the records whose "step" is larger (atomically).
  explicit MetricsLog(const std::filesystem::path& run_dir,
                      std::optional<std::int64_t> keep_through_step = std::nullopt);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // record must be a JSON object.
  void write(const nlohmann::json& record);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// A status line rewritten in place with carriage returns ("step 120/1000
// loss 2.31 ..."), shown only when the stream is a terminal: in a log file or a
// pipe every update would be a line of its own.
class ProgressLine {
 public:
  // On stderr, enabled when stderr is a TTY; long lines are cut to its width.
  static ProgressLine for_stderr();
  // width 0: no cutting.
  ProgressLine(std::FILE* stream, bool enabled, std::size_t width = 0);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ProgressLine(ProgressLine&& other) noexcept;
  ProgressLine& operator=(ProgressLine&&) = delete;

  bool enabled() const { return enabled_; }
  // Replaces the shown line with text (one line, no newline in it).
  void update(std::string_view text);
  // Blanks the line and returns the cursor to its start, so that a log message
  // can be printed; the next update() shows the status again.
  void clear();
  // Leaves the last status on screen and moves to the next line.
  void finish();

 private:
  std::FILE* stream_;
  bool enabled_;
  std::size_t width_;
  std::size_t shown_length_ = 0;  // characters currently on the line
};

// How long a run has trained and how long it will still take: the time since
// it started (or resumed) over the steps done since, times the steps left.
// Validation and checkpoints count, as they will in the rest of the run too.
class RunClock {
 public:
  RunClock(std::int64_t first_step, std::int64_t total_steps);
  double elapsed_seconds() const;
  // Seconds to step total_steps once step has finished; none before any step.
  std::optional<double> remaining_seconds(std::int64_t step) const;

 private:
  std::chrono::steady_clock::time_point started_;
  std::int64_t first_step_;
  std::int64_t total_steps_;
};

// "45s", "3m05s", "2h04m", "3d05h": two units at most, for log lines.
std::string format_duration(double seconds);

}  // namespace seqtrain
