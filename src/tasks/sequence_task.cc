#include "tasks/sequence_task.h"

#include <nlohmann/json.hpp>

#include "data/adding_problem.h"
#include "data/classification_dataset.h"
#include "data/text_dataset.h"
#include "io/atomic_write.h"
#include "io/read_file.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

SequenceModelSpec base_spec(const RunConfig& config) {
  SequenceModelSpec spec;
  SEQTRAIN_CHECK(config.task != Task::mlm, "a sequence model for task mlm");
  spec.task = config.task;
  spec.type = config.model.type;
  spec.layers = static_cast<int>(config.model.layers);
  spec.hidden_size = static_cast<int>(config.model.hidden_size);
  spec.bidirectional = config.model.bidirectional;
  spec.dropout = static_cast<float>(config.model.dropout);
  spec.embedding_size = static_cast<int>(config.model.embedding_size);
  spec.heads = static_cast<int>(config.model.heads);
  spec.intermediate_size = static_cast<int>(
      config.model.intermediate_size > 0 ? config.model.intermediate_size
                                         : 4 * config.model.hidden_size);
  spec.max_positions = static_cast<int>(config.data.sequence_length);
  return spec;
}

VocabularyKind vocabulary_kind(const RunConfig& config) {
  return config.data.vocabulary == Vocabulary::byte ? VocabularyKind::byte
                                                    : VocabularyKind::character;
}

}  // namespace

ClassLabels load_labels(const std::filesystem::path& run_dir) {
  const std::filesystem::path path = labels_path(run_dir);
  try {
    return ClassLabels::from_json(nlohmann::json::parse(read_file(path)), path.string());
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

std::filesystem::path labels_path(const std::filesystem::path& run_dir) {
  return run_dir / "labels.json";
}

std::filesystem::path vocabulary_path(const std::filesystem::path& run_dir) {
  return run_dir / "vocabulary.json";
}

SequenceTaskData load_sequence_task(const RunConfig& config, const std::filesystem::path& run_dir) {
  SequenceTaskData task;
  task.model_spec = base_spec(config);
  std::optional<CharVocabulary> saved;
  if (std::filesystem::exists(vocabulary_path(run_dir)))
    saved = CharVocabulary::load(vocabulary_path(run_dir));
  switch (config.task) {
    case Task::charlm: {
      TextDatasetOptions options;
      options.path = *config.data.path;
      options.vocabulary_kind = vocabulary_kind(config);
      options.validation_fraction = config.data.validation_fraction;
      options.batch_size = config.data.batch_size;
      options.sequence_length = config.data.sequence_length;
      auto dataset = std::make_unique<TextDataset>(options, saved);
      task.vocabulary = dataset->vocabulary();
      task.model_spec.vocabulary_size = dataset->vocabulary().size();
      task.model_spec.output_size = dataset->vocabulary().size();
      task.dataset = std::move(dataset);
      break;
    }
    case Task::adding: {
      AddingProblemOptions options;
      options.sequence_length = config.data.sequence_length;
      options.batch_size = config.data.batch_size;
      options.seed = static_cast<std::uint64_t>(config.seed);
      options.validation_examples = config.data.validation_size;
      task.dataset = std::make_unique<AddingProblem>(options);
      task.model_spec.feature_size = static_cast<int>(AddingProblem::kFeatureCount);
      task.model_spec.output_size = 1;
      break;
    }
    case Task::classification: {
      ClassificationDatasetOptions options;
      options.train_path = *config.data.train_path;
      if (config.data.validation_path) options.validation_path = *config.data.validation_path;
      options.vocabulary_kind = vocabulary_kind(config);
      options.validation_fraction = config.data.validation_fraction;
      options.batch_size = config.data.batch_size;
      options.max_length = config.data.sequence_length;
      options.seed = static_cast<std::uint64_t>(config.seed);
      std::optional<ClassLabels> saved_labels;
      if (std::filesystem::exists(labels_path(run_dir))) saved_labels = load_labels(run_dir);
      auto dataset = std::make_unique<ClassificationDataset>(options, saved, saved_labels);
      task.vocabulary = dataset->vocabulary();
      task.class_names = dataset->labels().names();
      task.model_spec.vocabulary_size = dataset->vocabulary().size();
      task.model_spec.output_size = dataset->labels().size();
      if (!saved_labels)
        write_file_atomically(labels_path(run_dir), dataset->labels().to_json().dump(2) + "\n");
      task.dataset = std::move(dataset);
      break;
    }
    case Task::mlm: SEQTRAIN_CHECK(false, "sequence task data for task mlm"); break;
  }
  if (task.vocabulary && !saved) task.vocabulary->save(vocabulary_path(run_dir));
  return task;
}

SequenceModelSpec sequence_model_spec(const RunConfig& config,
                                      const std::filesystem::path& run_dir) {
  SequenceModelSpec spec = base_spec(config);
  if (config.task == Task::adding) {
    spec.feature_size = static_cast<int>(AddingProblem::kFeatureCount);
    spec.output_size = 1;
    return spec;
  }
  CharVocabulary vocabulary = CharVocabulary::load(vocabulary_path(run_dir));
  spec.vocabulary_size = vocabulary.size();
  spec.output_size =
      config.task == Task::classification ? load_labels(run_dir).size() : vocabulary.size();
  return spec;
}

}  // namespace seqtrain
