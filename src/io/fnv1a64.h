// FNV-1a 64: a fingerprint for telling files apart (a tokenizer model, a
// corpus), not a cryptographic hash. Fnv1a64 takes the bytes in pieces, so a
// file too large for memory is fingerprinted as it streams past.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace seqtrain {

class Fnv1a64 {
 public:
  void update(std::string_view bytes) {
    for (char byte : bytes) {
      hash_ ^= static_cast<unsigned char>(byte);
      hash_ *= 0x100000001b3ull;
    }
  }
  // "fnv1a64:<16 lowercase hex digits>"
  std::string text() const;

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

// The fingerprint of bytes as Fnv1a64::text() writes it.
std::string fnv1a64_checksum(std::string_view bytes);

}  // namespace seqtrain
