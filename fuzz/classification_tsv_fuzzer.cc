// The classification TSV reader (src/data/classification_dataset.h): the main
// file is the training file, an optional "%%file validation" file the
// validation file. The options (vocabulary, batch size, length, split) come
// from the input's last bytes (FuzzedDataProvider takes numbers from the end).
// A dataset that loads must give batches in the documented layout.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/classification_dataset.h"
#include "fuzz_input.h"
#include "seqtrain/error.h"

using namespace seqtrain;

namespace {

void check_batch(const SequenceBatch& batch, const ClassificationDataset& dataset,
                 std::int64_t max_length) {
  const std::int64_t rows = batch.batch_size();
  const auto lengths = batch.lengths.span<std::int32_t>();
  const auto targets = batch.targets.span<std::int32_t>();
  const auto tokens = batch.tokens.span<std::int32_t>();
  const std::int64_t steps = batch.tokens.dim(0);
  if (steps < 1 || steps > max_length)
    fuzz::report_finding("a batch of " + std::to_string(steps) + " steps, T is " +
                         std::to_string(max_length));
  for (std::int64_t row = 0; row < rows; ++row) {
    if (lengths[row] < 1 || lengths[row] > steps) fuzz::report_finding("a row length outside 1..T");
    if (targets[row] < 0 || targets[row] >= static_cast<std::int32_t>(dataset.labels().size()))
      fuzz::report_finding("a target outside the labels");
    for (std::int64_t t = 0; t < lengths[row]; ++t) {
      const std::int32_t id = tokens[t * rows + row];
      if (id < 0 || id >= dataset.vocabulary().size())
        fuzz::report_finding("a token outside the vocabulary");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  ClassificationDatasetOptions options;
  options.vocabulary_kind =
      provider.ConsumeBool() ? VocabularyKind::character : VocabularyKind::byte;
  options.batch_size = provider.ConsumeIntegralInRange<std::int64_t>(1, 4);
  options.max_length = provider.ConsumeIntegralInRange<std::int64_t>(1, 16);
  options.validation_fraction = provider.ConsumeIntegralInRange<int>(0, 3) * 0.25;
  options.seed = provider.ConsumeIntegral<std::uint8_t>();
  const std::vector<std::uint8_t> rest = provider.ConsumeRemainingBytes<std::uint8_t>();
  const std::vector<fuzz::FuzzFile> files = fuzz::split_fuzz_input(rest.data(), rest.size());

  const fuzz::FuzzDirectory& directory = fuzz::FuzzDirectory::instance();
  directory.clear();
  options.train_path = directory.write("train.tsv", files.front().bytes);
  if (const std::string* validation = fuzz::find_fuzz_file(files, "validation"))
    options.validation_path = directory.write("validation.tsv", *validation);
  try {
    ClassificationDataset dataset(options);
    for (int batch = 0; batch < 2; ++batch)
      check_batch(dataset.next_training_batch(), dataset, options.max_length);
    for (const SequenceBatch& batch : dataset.validation_batches())
      check_batch(batch, dataset, options.max_length);
  } catch (const Error& error) {
    fuzz::expected_error(error);
  }
  return 0;
}
