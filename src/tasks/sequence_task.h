// What a run config's task means in data and model terms: the dataset, the
// vocabulary (kept in the run directory so eval and generate read text the same
// way), and the model's shape.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/char_vocabulary.h"
#include "data/class_labels.h"
#include "data/sequence_dataset.h"
#include "models/sequence_model.h"

namespace seqtrain {

struct SequenceTaskData {
  std::unique_ptr<SequenceDataset> dataset;
  std::optional<CharVocabulary> vocabulary;  // charlm, classification
  std::vector<std::string> class_names;      // classification
  SequenceModelSpec model_spec;
};

// Builds the task's dataset. With a vocabulary file in run_dir (a resumed run,
// eval) its ids are used; otherwise one is built from the training data and
// saved there.
SequenceTaskData load_sequence_task(const RunConfig& config, const std::filesystem::path& run_dir);

// The model spec of a trained run, from its config and run directory, without
// reading the training data (generate).
SequenceModelSpec sequence_model_spec(const RunConfig& config, const std::filesystem::path& run_dir);

std::filesystem::path vocabulary_path(const std::filesystem::path& run_dir);
std::filesystem::path labels_path(const std::filesystem::path& run_dir);
// A classification run's class labels (labels.json); DataError when unreadable.
ClassLabels load_labels(const std::filesystem::path& run_dir);

}  // namespace seqtrain
