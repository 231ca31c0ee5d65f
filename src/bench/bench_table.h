// A benchmark's results as a table of text cells: written as CSV (one
// header line, RFC 4180 quoting) for scripts and plots, and as a markdown
// table for reports. Both `seqtrain bench` subcommands write through it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace seqtrain {

struct BenchTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // each as wide as columns
};

std::string bench_table_csv(const BenchTable& table);
// Only the columns named (in that order), for a table that fits a page.
std::string bench_table_markdown(const BenchTable& table, const std::vector<std::string>& columns);

// The output folder (--out), made if missing; an IoError naming it otherwise.
void create_output_directory(const std::filesystem::path& directory);

}  // namespace seqtrain
