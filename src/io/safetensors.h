// The safetensors format (https://github.com/huggingface/safetensors), which
// PyTorch and Hugging Face read and write:
//   8 bytes     N, the header length, unsigned little-endian
//   N bytes     JSON: {"<name>": {"dtype": "F32" | "BF16" | "I32", "shape": [...],
//                                 "data_offsets": [begin, end]}, ...,
//                      "__metadata__": {"<key>": "<string>", ...}}
//               padded with spaces so the data starts 8-byte aligned
//   the rest    the tensors' bytes, little-endian, row-major; offsets are relative
//               to the start of this region, which they cover without gaps or
//               overlaps
// Files are written atomically (atomic_write.h). Reading trusts nothing: a
// truncated or corrupted file is an IoError naming the file and what is wrong,
// and no byte outside the file is ever read.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "seqtrain/tensor.h"

namespace seqtrain {

struct NamedTensor {
  std::string name;
  Tensor tensor;  // on the host
};

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;  // host tensors by name
  std::map<std::string, std::string> metadata;
};

// Writes the tensors in the given order. Names are unique, non-empty and not
// "__metadata__" (an InternalError otherwise: they come from our code).
void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

SafetensorsContents read_safetensors(const std::filesystem::path& path);

}  // namespace seqtrain
