// seqtrain bench affinity and bench latency end to end, small: the files
// they write, the CSV's columns and one row per device x length x series,
// figures that hold by definition (serial's speedup over itself, one
// thread's parallel efficiency, the LSTM's critical path growing by 2 per
// step), points beyond the budget marked skipped, a device that cannot run
// here marked unavailable with the reason, and bad flags refused in one line
// with exit 2. No timing is asserted.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_support.h"

namespace seqtrain::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kAffinityColumns = {"device",
                                                   "threads",
                                                   "workload",
                                                   "length",
                                                   "batch",
                                                   "hidden",
                                                   "heads",
                                                   "status",
                                                   "ms",
                                                   "tokens_per_s",
                                                   "gflop",
                                                   "gflop_per_s",
                                                   "peak_gflop_per_s",
                                                   "fraction_of_peak",
                                                   "speedup_over_serial",
                                                   "parallel_efficiency",
                                                   "critical_path_steps",
                                                   "repeats",
                                                   "note"};
const std::vector<std::string> kLatencyColumns = {"device",
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

// One CSV line's cells (quoted cells may hold commas and doubled quotes).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

using Row = std::map<std::string, std::string>;

std::vector<Row> read_csv(const fs::path& path, const std::vector<std::string>& columns) {
  std::ifstream file(path);
  std::string line;
  std::vector<Row> rows;
  if (!std::getline(file, line)) {
    ADD_FAILURE() << path << " is empty";
    return rows;
  }
  EXPECT_EQ(csv_cells(line), columns) << path;
  while (std::getline(file, line)) {
    const std::vector<std::string> cells = csv_cells(line);
    EXPECT_EQ(cells.size(), columns.size()) << line;
    Row row;
    for (std::size_t i = 0; i < columns.size() && i < cells.size(); ++i) row[columns[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

std::string read_text(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

bool python_has_matplotlib() {
  return run_command("python3 -c 'import matplotlib' >/dev/null 2>&1").exit_code == 0;
}

class CliBench : public CliTest {
 protected:
  // Exit 2 with one line naming the fragment.
  void expect_one_line_error(const std::string& arguments, const std::string& fragment) {
    const CommandResult result = run_seqtrain(arguments);
    expect_user_error(result, fragment);
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
};

TEST_F(CliBench, AffinityWritesTheTableThePlotsAndOneRowPerDeviceLengthAndWorkload) {
  const fs::path out = directory_ / "affinity";
  const CommandResult result = run_seqtrain(
      "bench affinity --devices serial,cpu --lengths 16,64 --threads 1 --hidden 32 --batch 2 "
      "--out " +
      out.string());
  if (!python_has_matplotlib()) {  // the table is written; the plots say what is missing
    expect_user_error(result, "matplotlib");
  } else {
    ASSERT_EQ(result.exit_code, 0) << result.output;
    for (const char* plot : {"time_vs_length", "speedup_vs_length", "fraction_of_peak_vs_length"})
      for (const char* extension : {".png", ".svg"})
        EXPECT_GT(fs::file_size(out / (std::string(plot) + extension)), 0u) << plot << extension;
  }
  const std::vector<Row> rows = read_csv(out / "results.csv", kAffinityColumns);
  ASSERT_EQ(rows.size(), 2u * 2u * 3u);  // serial and cpu x1, 2 lengths, 3 workloads
  std::map<std::string, int> critical_paths;
  for (const Row& row : rows) {
    const std::string where = row.at("device") + " " + row.at("workload") + " " + row.at("length");
    EXPECT_EQ(row.at("status"), "measured") << where << ": " << row.at("note");
    EXPECT_EQ(row.at("threads"), "1") << where;
    EXPECT_EQ(row.at("batch"), "2");
    EXPECT_EQ(row.at("hidden"), "32");
    EXPECT_GT(std::stod(row.at("ms")), 0.0) << where;
    EXPECT_GT(std::stod(row.at("fraction_of_peak")), 0.0) << where;
    if (row.at("device") == "serial") {
      EXPECT_EQ(row.at("speedup_over_serial"), "1") << where;
    } else {
      EXPECT_EQ(row.at("parallel_efficiency"), "1.000") << where;
    }
    critical_paths[row.at("workload") + row.at("length")] =
        std::stoi(row.at("critical_path_steps"));
  }
  EXPECT_EQ(critical_paths["lstm_layer64"] - critical_paths["lstm_layer16"], 2 * (64 - 16));
  EXPECT_EQ(critical_paths["attention_op64"], critical_paths["attention_op16"]);
  EXPECT_EQ(critical_paths["transformer_layer64"], critical_paths["transformer_layer16"]);
  const std::string report = read_text(out / "results.md");
  for (const char* part : {"# seqtrain bench affinity", "## Host", "FMA peak", "load average",
                           "| serial | 1 | lstm_layer | 16 | measured |"})
    EXPECT_NE(report.find(part), std::string::npos) << part << "\n" << report;
}

TEST_F(CliBench, AffinityMarksPointsBeyondTheBudgetSkippedAndADeviceThatCannotRunUnavailable) {
  const fs::path out = directory_ / "affinity";
  const CommandResult result = run_seqtrain(
      "bench affinity --devices serial,cuda --lengths 16,100000 --hidden 32 --batch 2 "
      "--budget-seconds 5 --out " +
          out.string(),
      true, "SEQTRAIN_CUDA_PLUGIN=/nonexistent/libseqtrain_cuda.so");
  if (python_has_matplotlib()) {
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }
  const std::vector<Row> rows = read_csv(out / "results.csv", kAffinityColumns);
  ASSERT_EQ(rows.size(), 2u * 2u * 3u);
  for (const Row& row : rows) {
    const std::string where = row.at("device") + " " + row.at("workload") + " " + row.at("length");
    if (row.at("device") == "cuda:0") {
      EXPECT_EQ(row.at("status"), "unavailable") << where;
      EXPECT_NE(row.at("note").find("unavailable"), std::string::npos) << where << row.at("note");
      EXPECT_EQ(row.at("ms"), "") << where;
    } else if (row.at("length") == "100000") {
      EXPECT_EQ(row.at("status"), "skipped") << where;
      EXPECT_EQ(row.at("note").rfind("skipped: predicted", 0), 0u) << where << row.at("note");
      EXPECT_EQ(row.at("ms"), "") << where;
    } else {
      EXPECT_EQ(row.at("status"), "measured") << where << ": " << row.at("note");
    }
  }
  const std::string report = read_text(out / "results.md");
  EXPECT_NE(report.find("- cuda:0: not measured: "), std::string::npos) << report;
  EXPECT_NE(report.find("| skipped |"), std::string::npos) << report;
}

TEST_F(CliBench, LatencyWritesOneRowPerDevicePrefixAndMethod) {
  const fs::path out = directory_ / "latency";
  const CommandResult result = run_seqtrain(
      "bench latency --devices serial,cpu --lengths 4,16 --threads 1 --hidden 32 --out " +
      out.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::vector<Row> rows = read_csv(out / "results.csv", kLatencyColumns);
  ASSERT_EQ(rows.size(), 2u * 2u * 3u);
  std::map<std::string, int> methods;
  for (const Row& row : rows) {
    EXPECT_EQ(row.at("status"), "measured") << row.at("method") << ": " << row.at("note");
    EXPECT_GT(std::stod(row.at("ms_per_token")), 0.0);
    ++methods[row.at("method")];
  }
  EXPECT_EQ(methods,
            (std::map<std::string, int>{
                {"lstm_step", 4}, {"transformer_kv_cache", 4}, {"transformer_reencode", 4}}));
  EXPECT_NE(read_text(out / "results.md").find("# seqtrain bench latency"), std::string::npos);
}

TEST_F(CliBench, BadFlagsAreRefusedInOneLine) {
  const std::string out = " --out " + (directory_ / "out").string();
  expect_one_line_error("bench affinity --devices serial,gpu" + out, "'gpu' is not accepted");
  expect_one_line_error("bench affinity --lengths 0,16" + out, "--lengths '0,16': '0'");
  expect_one_line_error("bench affinity --lengths 16,,64" + out, "empty entry");
  expect_one_line_error("bench affinity --lengths 16,x" + out, "'x' is not an integer");
  expect_one_line_error("bench affinity --threads 0" + out, "--threads '0'");
  expect_one_line_error("bench affinity --hidden 48" + out, "--hidden 48");
  expect_one_line_error("bench affinity --batch 0" + out, "--batch");
  expect_one_line_error("bench affinity --budget-seconds -1" + out, "--budget-seconds");
  expect_one_line_error("bench latency --devices cpu, " + out, "empty entry");
  expect_one_line_error("bench latency --layers 0" + out, "--layers");
  expect_one_line_error("bench", "A subcommand is required");
  EXPECT_FALSE(fs::exists(directory_ / "out"));
}

}  // namespace
}  // namespace seqtrain::testing
