#include "bench/bench_table.h"

#include <fmt/format.h>

#include <algorithm>

#include "io/io_error.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

std::string csv_cell(const std::string& cell) {
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string markdown_cell(const std::string& cell) {
  std::string escaped;
  for (char c : cell) {
    if (c == '|') escaped += '\\';
    escaped += c == '\n' ? ' ' : c;
  }
  return escaped;
}

}  // namespace

std::string bench_table_csv(const BenchTable& table) {
  std::string text;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) text += (i ? "," : "") + csv_cell(cells[i]);
    text += '\n';
  };
  line(table.columns);
  for (const auto& row : table.rows) {
    SEQTRAIN_CHECK(row.size() == table.columns.size(), "bench table row of {} cells, {} columns",
                   row.size(), table.columns.size());
    line(row);
  }
  return text;
}

std::string bench_table_markdown(const BenchTable& table, const std::vector<std::string>& columns) {
  std::vector<std::size_t> indices;
  for (const std::string& column : columns) {
    const auto found = std::find(table.columns.begin(), table.columns.end(), column);
    SEQTRAIN_CHECK(found != table.columns.end(), "bench table has no column {}", column);
    indices.push_back(static_cast<std::size_t>(found - table.columns.begin()));
  }
  std::string text = "|";
  for (const std::string& column : columns) text += " " + column + " |";
  text += "\n|";
  for (std::size_t i = 0; i < columns.size(); ++i) text += "---|";
  text += '\n';
  for (const auto& row : table.rows) {
    text += "|";
    for (std::size_t index : indices) text += " " + markdown_cell(row[index]) + " |";
    text += '\n';
  }
  return text;
}

void create_output_directory(const std::filesystem::path& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error)
    throw IoError(directory, fmt::format("{}: cannot create the output directory: {}",
                                         directory.string(), error.message()));
}

}  // namespace seqtrain
