// Predictions of a trained sequence model on lines of input, for `seqtrain
// predict` (one JSON record per line) and `seqtrain eval --data` (the metrics
// over a file). The formats, one example per line (docs/sequence_tasks.md):
//
//   classification  "TEXT" or "LABEL<tab>TEXT" (the training file's format;
//                   with labels the file is also scored). Text longer than
//                   data.sequence_length is cut, as in training.
//                   -> {"label", "probabilities": {class: p}} (+ "expected")
//   charlm          any text; the model reads the line and predicts each
//                   next symbol, the line's end ("\n") included.
//                   -> {"characters", "loss", "bits_per_char", "next": the
//                       top-k symbols after the line with probabilities}
//   adding          T numbers in [0, 1], the two marked ones suffixed '*':
//                   "0.31 0.77* 0.12 0.50*" -> {"prediction", "target"}
//
// Every record has "line" (1-based). Lines are batched data.batch_size at a
// time, each from a zero recurrent state, padded to data.sequence_length
// steps as the training batches are, so a line predicts as it would validate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "data/char_vocabulary.h"
#include "tasks/sequence_runner.h"

namespace seqtrain {

struct PredictionInputs {
  const RunConfig* config = nullptr;
  const CharVocabulary* vocabulary = nullptr;     // charlm, classification
  const std::vector<std::string>* class_names = nullptr;  // classification
  std::string source_name;  // the input file, for errors ("data.tsv line 7: ...")
  std::int64_t top_k = 5;   // charlm's "next"
};

struct Predictions {
  std::vector<nlohmann::json> records;  // one per input line
  // Metrics over the lines that say what they expect (classification with
  // labels, adding with two markers, every charlm line): as `seqtrain eval`
  // reports them, plus classification's per-class precision, recall, F1 and
  // confusion matrix. Empty when no line has an expectation.
  nlohmann::json metrics;
};

// DataError naming the source and line for a line that is not an example.
Predictions predict_lines(SequenceRunner& runner, const PredictionInputs& inputs,
                          const std::vector<std::string>& lines);

}  // namespace seqtrain
