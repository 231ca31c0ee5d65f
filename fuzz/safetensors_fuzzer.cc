// The safetensors reader (src/io/safetensors.h), which reads weights from
// checkpoints, training.init_from and other programs' files. The input is
// the whole file. A file that reads must write back and read again to the
// same tensors and metadata.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_input.h"
#include "io/safetensors.h"
#include "seqtrain/error.h"

using namespace seqtrain;

namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.bytes() == b.bytes() &&
         (a.bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::FuzzDirectory& directory = fuzz::FuzzDirectory::instance();
  directory.clear();
  const auto path = directory.write("input.safetensors",
                                    std::string_view(reinterpret_cast<const char*>(data), size));
  SafetensorsContents contents;
  try {
    contents = read_safetensors(path);
  } catch (const Error& error) {
    fuzz::expected_error(error);
    return 0;
  }
  std::vector<NamedTensor> tensors;
  for (const auto& [name, tensor] : contents.tensors) tensors.push_back({name, tensor});
  const auto copy = directory.path() / "copy.safetensors";
  try {
    write_safetensors(copy, tensors, contents.metadata);
  } catch (const Error& error) {
    fuzz::report_finding("a file that reads does not write back: " + std::string(error.what()));
  }
  const SafetensorsContents reread = read_safetensors(copy);
  if (reread.metadata != contents.metadata || reread.tensors.size() != contents.tensors.size())
    fuzz::report_finding("a file written back reads as other names or metadata");
  for (const auto& [name, tensor] : contents.tensors)
    if (!reread.tensors.contains(name) || !same_tensor(tensor, reread.tensors.at(name)))
      fuzz::report_finding("tensor '" + name + "' changed when written back");
  return 0;
}
