// Prepared token shards (src/data/token_shards.h): the main file is
// manifest.json, the "%%file NAME" files are the shards' .tokens and
// .documents files it names. A directory that opens must serve every token
// of every document of both splits from inside its mapped files (ASan
// watches the reads), each below the manifest's vocabulary size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/token_shards.h"
#include "fuzz_input.h"
#include "seqtrain/error.h"

using namespace seqtrain;

namespace {

void read_every_token(const TokenSplit& split, std::int64_t vocab_size) {
  std::int64_t tokens = 0;
  for (std::int64_t document = 0; document < split.document_count(); ++document) {
    for (std::int32_t id : split.document_tokens(document))
      if (id < 0 || id >= vocab_size)
        fuzz::report_finding("a token id " + std::to_string(id) + " outside the vocabulary of " +
                             std::to_string(vocab_size) + " passed the checks");
    tokens += split.document_length(document);
  }
  if (tokens != split.token_count())
    fuzz::report_finding("the documents' lengths do not add up to the split's token count");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::FuzzDirectory& directory = fuzz::FuzzDirectory::instance();
  directory.clear();
  const std::vector<fuzz::FuzzFile> files = fuzz::split_fuzz_input(data, size);
  directory.write(TokenShards::kManifestFileName, files.front().bytes);
  for (std::size_t index = 1; index < files.size(); ++index)
    if (files[index].name != TokenShards::kManifestFileName)
      directory.write(files[index].name, files[index].bytes);
  try {
    const TokenShards shards = TokenShards::open(directory.path());
    read_every_token(shards.training(), shards.vocab_size());
    read_every_token(shards.validation(), shards.vocab_size());
  } catch (const Error& error) {
    fuzz::expected_error(error);
  }
  return 0;
}
