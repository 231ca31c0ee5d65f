// "Did you mean ...?" for misspelt config keys and enum values: the candidate
// closest to what the user typed by edit distance, if it is close enough to be a
// plausible typo.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace seqtrain {

// Optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost 1 ("lstn" -> "lstm" is 1,
// "lienar" -> "linear" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to typed, if its distance is at most max(1, |typed| / 3);
// ties go to the earlier candidate.
std::optional<std::string> nearest_name(std::string_view typed,
                                        std::span<const std::string> candidates);

}  // namespace seqtrain
