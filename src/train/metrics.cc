#include "train/metrics.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "io/atomic_write.h"
#include "io/read_file.h"
#include "seqtrain/error.h"

namespace seqtrain {

MetricsLog::MetricsLog(const std::filesystem::path& run_dir,
                       std::optional<std::int64_t> keep_through_step)
    : path_(run_dir / "metrics.jsonl") {
  std::error_code error;
  std::filesystem::create_directories(run_dir, error);
  if (error)
    throw Error(
        fmt::format("cannot create run directory '{}': {}", run_dir.string(), error.message()));
  if (keep_through_step && std::filesystem::exists(path_)) {
    // Keep every line but records of later steps (a line that does not parse
    // is kept: it is not ours to judge).
    std::istringstream lines(read_file(path_));
    std::string kept;
    for (std::string line; std::getline(lines, line);) {
      const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
      if (!record.is_discarded() && record.is_object() && record.contains("step") &&
          record["step"].is_number_integer() &&
          record["step"].get<std::int64_t>() > *keep_through_step)
        continue;
      kept += line + "\n";
    }
    write_file_atomically(path_, kept);
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr)
    throw Error(fmt::format("cannot open metrics file '{}' for appending: {}", path_.string(),
                            std::strerror(errno)));
}

MetricsLog::~MetricsLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  SEQTRAIN_CHECK(record.is_object(), "metrics record is {}, not a JSON object", record.type_name());
  // dump() escapes newlines inside strings, so the record stays on one line;
  // invalid UTF-8 is replaced rather than thrown over.
  const std::string line =
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw Error(
        fmt::format("cannot write metrics file '{}': {}", path_.string(), std::strerror(errno)));
}

ProgressLine ProgressLine::for_stderr() {
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  std::size_t width = 0;
  struct winsize size {};
  if (terminal && ::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1)
    width = size.ws_col - 1;  // writing the last column makes some terminals wrap
  return ProgressLine(stderr, terminal, width);
}

ProgressLine::ProgressLine(std::FILE* stream, bool enabled, std::size_t width)
    : stream_(stream), enabled_(enabled), width_(width) {}

ProgressLine::ProgressLine(ProgressLine&& other) noexcept
    : stream_(other.stream_),
      enabled_(other.enabled_),
      width_(other.width_),
      shown_length_(other.shown_length_) {
  other.enabled_ = false;
  other.shown_length_ = 0;
}

ProgressLine::~ProgressLine() {
  finish();
}

void ProgressLine::update(std::string_view text) {
  if (!enabled_) return;
  if (width_ > 0 && text.size() > width_) text = text.substr(0, width_);
  // Spaces cover what is left of a longer previous line.
  const std::size_t padding = shown_length_ > text.size() ? shown_length_ - text.size() : 0;
  std::fprintf(stream_, "\r%.*s%*s", static_cast<int>(text.size()), text.data(),
               static_cast<int>(padding), "");
  std::fflush(stream_);
  shown_length_ = text.size();
}

void ProgressLine::clear() {
  if (!enabled_ || shown_length_ == 0) return;
  std::fprintf(stream_, "\r%*s\r", static_cast<int>(shown_length_), "");
  std::fflush(stream_);
  shown_length_ = 0;
}

void ProgressLine::finish() {
  if (!enabled_ || shown_length_ == 0) return;
  std::fputc('\n', stream_);
  std::fflush(stream_);
  shown_length_ = 0;
}

RunClock::RunClock(std::int64_t first_step, std::int64_t total_steps)
    : started_(std::chrono::steady_clock::now()),
      first_step_(first_step),
      total_steps_(total_steps) {}

double RunClock::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

std::optional<double> RunClock::remaining_seconds(std::int64_t step) const {
  if (step <= first_step_) return std::nullopt;
  return elapsed_seconds() / static_cast<double>(step - first_step_) *
         static_cast<double>(std::max<std::int64_t>(total_steps_ - step, 0));
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto whole = static_cast<std::int64_t>(std::llround(seconds));
  if (whole < 60) return fmt::format("{}s", whole);
  if (whole < 3600) return fmt::format("{}m{:02d}s", whole / 60, whole % 60);
  if (whole < 86400) return fmt::format("{}h{:02d}m", whole / 3600, whole % 3600 / 60);
  return fmt::format("{}d{:02d}h", whole / 86400, whole % 86400 / 3600);
}

}  // namespace seqtrain

