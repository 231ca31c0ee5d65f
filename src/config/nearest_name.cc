#include "config/nearest_name.h"

#include <algorithm>
#include <vector>

namespace seqtrain {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // distance[i][j]: cost of turning a[0, i) into b[0, j).
  const std::size_t rows = a.size() + 1, columns = b.size() + 1;
  std::vector<std::size_t> distance(rows * columns);
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return distance[i * columns + j]; };
  for (std::size_t i = 0; i < rows; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j < columns; ++j) at(0, j) = j;
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < columns; ++j) {
      const std::size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(rows - 1, columns - 1);
}

std::optional<std::string> nearest_name(std::string_view typed,
                                        std::span<const std::string> candidates) {
  const std::size_t allowed = std::max<std::size_t>(1, typed.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(typed, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace seqtrain
