#include "io/fnv1a64.h"

#include <fmt/format.h>

namespace seqtrain {

std::string Fnv1a64::text() const { return fmt::format("fnv1a64:{:016x}", hash_); }

std::string fnv1a64_checksum(std::string_view bytes) {
  Fnv1a64 hash;
  hash.update(bytes);
  return hash.text();
}

}  // namespace seqtrain
