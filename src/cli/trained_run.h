// A trained run loaded for use by eval, generate and predict.
//
// A sequence run (charlm, adding, classification): its config, the model the
// config names with a checkpoint's weights, and the vocabulary and class names
// from its run directory; the training data is not read.
//
// Any run as its TrainingTask (eval's validation, mlm's fill-mask): the task
// made as for a resumed run (mlm reads the data it prepared), with a
// checkpoint's weights and data position.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/char_vocabulary.h"
#include "models/sequence_model.h"
#include "seqtrain/backend.h"
#include "seqtrain/parameters.h"
#include "tasks/prediction.h"
#include "tasks/training_task.h"

namespace seqtrain {

struct TrainedSequenceRun {
  RunConfig config;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ParameterStore> parameters;
  std::unique_ptr<SequenceModel> model;
  std::optional<CharVocabulary> vocabulary;  // charlm, classification
  std::vector<std::string> class_names;      // classification
  std::filesystem::path checkpoint;          // the one loaded
};

// command names the caller in errors ("predict: RUN is a run of task mlm;
// ..."), which serves the runs of the tasks in `serves`. checkpoint: step_N or
// a path, looked for in the run directory first; empty: the latest.
TrainedSequenceRun load_trained_sequence_run(const std::string& command,
                                             const std::vector<Task>& serves,
                                             const std::filesystem::path& run_dir,
                                             const std::string& checkpoint,
                                             const std::string& device);

struct TrainedTask {
  RunConfig config;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ParameterStore> parameters;
  std::unique_ptr<TrainingTask> task;
  std::filesystem::path checkpoint;  // the one loaded
};
TrainedTask load_trained_task(const std::filesystem::path& run_dir, const std::string& checkpoint,
                              const std::string& device);

// The lines of a text file (a trailing "\r" dropped from each).
std::vector<std::string> read_lines(const std::filesystem::path& path);

// The run's predictions for every line of input (tasks/prediction.h).
Predictions predict_file(TrainedSequenceRun& run, const std::filesystem::path& input,
                         std::int64_t top_k);

}  // namespace seqtrain
