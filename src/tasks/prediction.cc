#include "tasks/prediction.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <sstream>

#include "data/sequence_batch.h"
#include "tasks/confusion_matrix.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// One line, read as an example of the task.
struct Example {
  std::int64_t line = 0;
  std::vector<std::int32_t> tokens;   // charlm, classification: the input ids
  std::vector<std::int32_t> targets;  // charlm: the next id at every step
  std::vector<float> features;        // adding: value, marker per step
  std::optional<std::int32_t> label;  // classification: the expected class
  std::optional<float> target;        // adding: the sum of the marked values
  bool truncated = false;
  std::int64_t steps() const {
    return features.empty() ? static_cast<std::int64_t>(tokens.size())
                            : static_cast<std::int64_t>(features.size() / 2);
  }
};

class LineReader {
 public:
  explicit LineReader(const PredictionInputs& inputs) : inputs_(inputs) {}

  // nullopt: a line with nothing to predict (an empty charlm line).
  std::optional<Example> read(const std::string& text, std::int64_t line) const {
    Example example;
    example.line = line;
    switch (inputs_.config->task) {
      case Task::classification: read_classification(text, example); break;
      case Task::charlm:
        if (text.empty()) return std::nullopt;
        read_charlm(text, example);
        break;
      case Task::adding: read_adding(text, example); break;
      case Task::mlm: SEQTRAIN_CHECK(false, "sequence predictions for task mlm"); break;
    }
    return example;
  }

 private:
  [[noreturn]] void fail(std::int64_t line, const std::string& problem) const {
    throw DataError(fmt::format("{} line {}: {}", inputs_.source_name, line, problem));
  }

  std::int64_t max_steps() const { return inputs_.config->data.sequence_length; }

  void read_classification(const std::string& text, Example& example) const {
    std::string body = text;
    if (const std::size_t tab = text.find('\t'); tab != std::string::npos) {
      const std::string label = text.substr(0, tab);
      const auto& names = *inputs_.class_names;
      const auto found = std::find(names.begin(), names.end(), label);
      if (found == names.end())
        fail(example.line, fmt::format("label '{}' is not one of the run's classes ({})", label,
                                       fmt::join(names, ", ")));
      example.label = static_cast<std::int32_t>(found - names.begin());
      body = text.substr(tab + 1);
    }
    if (body.empty()) fail(example.line, "no text to classify");
    example.tokens = inputs_.vocabulary->encode(body, inputs_.source_name);
    if (static_cast<std::int64_t>(example.tokens.size()) > max_steps()) {
      example.tokens.resize(static_cast<std::size_t>(max_steps()));
      example.truncated = true;
    }
  }

  // The line's symbols in, each next symbol out: the last predicts the end of line.
  void read_charlm(const std::string& text, Example& example) const {
    std::vector<std::int32_t> ids = inputs_.vocabulary->encode(text + "\n", inputs_.source_name);
    if (static_cast<std::int64_t>(ids.size()) - 1 > max_steps()) {
      ids.resize(static_cast<std::size_t>(max_steps() + 1));
      example.truncated = true;
    }
    example.tokens.assign(ids.begin(), ids.end() - 1);
    example.targets.assign(ids.begin() + 1, ids.end());
  }

  void read_adding(const std::string& text, Example& example) const {
    std::istringstream words(text);
    float sum = 0.0f;
    int marked = 0;
    for (std::string word; words >> word;) {
      const bool marker = word.ends_with('*');
      if (marker) word.pop_back();
      float value = 0.0f;
      std::size_t used = 0;
      try {
        value = std::stof(word, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != word.size() || word.empty() || !std::isfinite(value))
        fail(example.line, fmt::format("'{}' is not a number (write values like 0.31, marked "
                                       "ones 0.77*)",
                                       word));
      example.features.push_back(value);
      example.features.push_back(marker ? 1.0f : 0.0f);
      if (marker) {
        sum += value;
        ++marked;
      }
    }
    if (example.features.empty()) fail(example.line, "no values");
    if (example.steps() > max_steps())
      fail(example.line, fmt::format("{} values, more than data.sequence_length ({})",
                                     example.steps(), max_steps()));
    if (marked == 2) example.target = sum;
  }

  const PredictionInputs& inputs_;
};

// The batch of examples [first, first + count), padded to B rows of T steps.
SequenceBatch make_batch(const std::vector<Example>& examples, std::size_t first, std::size_t count,
                         Task task, std::int64_t rows, std::int64_t steps) {
  SequenceBatch batch;
  batch.lengths = Tensor::from_vector(std::vector<std::int32_t>(rows, 1), {rows});
  auto* lengths = batch.lengths.data<std::int32_t>();
  if (task == Task::adding) {
    batch.features = Tensor::from_vector(std::vector<float>(steps * rows * 2, 0.0f), {steps, rows, 2});
    batch.targets = Tensor::from_vector(std::vector<float>(rows, 0.0f), {rows, 1});
  } else {
    batch.tokens = Tensor::from_vector(std::vector<std::int32_t>(steps * rows, kPaddingToken),
                                       {steps, rows});
    batch.targets = task == Task::charlm
                        ? Tensor::from_vector(std::vector<std::int32_t>(steps * rows, kIgnoreTarget),
                                              {steps, rows})
                        : Tensor::from_vector(std::vector<std::int32_t>(rows, kIgnoreTarget), {rows});
  }
  for (std::size_t i = 0; i < count; ++i) {
    const Example& example = examples[first + i];
    const auto b = static_cast<std::int64_t>(i);
    lengths[b] = static_cast<std::int32_t>(example.steps());
    for (std::int64_t t = 0; t < example.steps(); ++t) {
      if (task == Task::adding) {
        batch.features.data<float>()[(t * rows + b) * 2] = example.features[t * 2];
        batch.features.data<float>()[(t * rows + b) * 2 + 1] = example.features[t * 2 + 1];
      } else {
        batch.tokens.data<std::int32_t>()[t * rows + b] = example.tokens[t];
        if (task == Task::charlm) batch.targets.data<std::int32_t>()[t * rows + b] = example.targets[t];
      }
    }
    if (task == Task::classification && example.label)
      batch.targets.data<std::int32_t>()[b] = *example.label;
    if (task == Task::adding && example.target) batch.targets.data<float>()[b] = *example.target;
  }
  return batch;
}

// log softmax of one row of logits, in double.
std::vector<double> log_probabilities(const float* logits, std::int64_t count) {
  const double top = *std::max_element(logits, logits + count);
  double total = 0.0;
  for (std::int64_t c = 0; c < count; ++c) total += std::exp(static_cast<double>(logits[c]) - top);
  const double log_total = std::log(total) + top;
  std::vector<double> result(static_cast<std::size_t>(count));
  for (std::int64_t c = 0; c < count; ++c) result[c] = static_cast<double>(logits[c]) - log_total;
  return result;
}

std::int64_t argmax(const std::vector<double>& values) {
  return std::max_element(values.begin(), values.end()) - values.begin();
}

// Running sums of what the lines with an expectation score.
struct Scores {
  double loss_sum = 0.0;
  std::int64_t rows = 0, correct = 0;
};

}  // namespace

Predictions predict_lines(SequenceRunner& runner, const PredictionInputs& inputs,
                          const std::vector<std::string>& lines) {
  const RunConfig& config = *inputs.config;
  const Task task = config.task;
  const LineReader reader(inputs);
  Predictions result;
  std::vector<Example> examples;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto line = static_cast<std::int64_t>(i + 1);
    if (std::optional<Example> example = reader.read(lines[i], line))
      examples.push_back(std::move(*example));
    else
      result.records.push_back({{"line", line}, {"characters", 0}});
  }

  Scores scores;
  const std::size_t classes = task == Task::classification ? inputs.class_names->size() : 0;
  ConfusionMatrix confusion(classes > 0 ? *inputs.class_names : std::vector<std::string>{});
  const std::int64_t rows = config.data.batch_size, steps = config.data.sequence_length;
  for (std::size_t first = 0; first < examples.size(); first += static_cast<std::size_t>(rows)) {
    const std::size_t count = std::min(examples.size() - first, static_cast<std::size_t>(rows));
    const Tensor output = runner.predict_batch(make_batch(examples, first, count, task, rows, steps));
    for (std::size_t i = 0; i < count; ++i) {
      const Example& example = examples[first + i];
      const auto b = static_cast<std::int64_t>(i);
      nlohmann::json record{{"line", example.line}};
      if (example.truncated) record["truncated"] = true;
      if (task == Task::adding) {
        const double prediction = output.data<float>()[b];
        record["prediction"] = prediction;
        if (example.target) {
          record["target"] = *example.target;
          scores.loss_sum += (prediction - *example.target) * (prediction - *example.target);
          ++scores.rows;
        }
      } else if (task == Task::classification) {
        const std::vector<double> log_p = log_probabilities(output.data<float>() + b * classes,
                                                            static_cast<std::int64_t>(classes));
        const std::int64_t best = argmax(log_p);
        record["label"] = (*inputs.class_names)[best];
        nlohmann::json probabilities = nlohmann::json::object();
        for (std::size_t c = 0; c < classes; ++c)
          probabilities[(*inputs.class_names)[c]] = std::exp(log_p[c]);
        record["probabilities"] = probabilities;
        if (example.label) {
          record["expected"] = (*inputs.class_names)[*example.label];
          scores.loss_sum -= log_p[*example.label];
          scores.correct += best == *example.label;
          confusion.add(*example.label, best);
          ++scores.rows;
        }
      } else {
        const std::int64_t symbols = output.dim(1);
        double loss = 0.0;
        std::int64_t correct = 0;
        std::vector<double> log_p;
        for (std::int64_t t = 0; t < example.steps(); ++t) {
          log_p = log_probabilities(output.data<float>() + (t * rows + b) * symbols, symbols);
          loss -= log_p[example.targets[t]];
          correct += argmax(log_p) == example.targets[t];
        }
        // The distribution after the line's last symbol (at its end of line).
        std::vector<std::int64_t> order(static_cast<std::size_t>(symbols));
        std::iota(order.begin(), order.end(), 0);
        const auto kept = std::min<std::int64_t>(inputs.top_k, symbols);
        std::partial_sort(order.begin(), order.begin() + kept, order.end(),
                          [&](std::int64_t a, std::int64_t c) { return log_p[a] > log_p[c]; });
        nlohmann::json next = nlohmann::json::array();
        for (std::int64_t k = 0; k < kept; ++k)
          next.push_back({{"symbol", inputs.vocabulary->decode(std::vector<std::int32_t>{
                                         static_cast<std::int32_t>(order[k])})},
                          {"probability", std::exp(log_p[order[k]])}});
        const auto characters = example.steps();
        record["characters"] = characters;
        record["loss"] = loss / static_cast<double>(characters);
        record["bits_per_char"] = loss / static_cast<double>(characters) / std::log(2.0);
        record["next"] = next;
        scores.loss_sum += loss;
        scores.correct += correct;
        scores.rows += characters;
      }
      result.records.push_back(std::move(record));
    }
  }
  std::sort(result.records.begin(), result.records.end(),
            [](const nlohmann::json& a, const nlohmann::json& b) { return a["line"] < b["line"]; });

  if (scores.rows > 0) {
    const double mean = scores.loss_sum / static_cast<double>(scores.rows);
    switch (task) {
      case Task::classification:
        result.metrics = {{"examples", scores.rows},
                          {"loss", mean},
                          {"accuracy", static_cast<double>(scores.correct) /
                                           static_cast<double>(scores.rows)}};
        result.metrics.update(confusion.to_json());
        break;
      case Task::charlm:
        result.metrics = {{"characters", scores.rows},
                          {"loss", mean},
                          {"bits_per_char", mean / std::log(2.0)},
                          {"accuracy", static_cast<double>(scores.correct) /
                                           static_cast<double>(scores.rows)}};
        break;
      case Task::adding: result.metrics = {{"examples", scores.rows}, {"mse", mean}}; break;
      case Task::mlm: break;
    }
  }
  return result;
}

}  // namespace seqtrain
