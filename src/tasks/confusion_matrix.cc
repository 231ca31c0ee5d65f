#include "tasks/confusion_matrix.h"

#include "seqtrain/error.h"

namespace seqtrain {

ConfusionMatrix::ConfusionMatrix(std::vector<std::string> class_names)
    : names_(std::move(class_names)),
      counts_(names_.size(), std::vector<std::int64_t>(names_.size(), 0)) {}

void ConfusionMatrix::add(std::int64_t expected, std::int64_t predicted) {
  const auto classes = static_cast<std::int64_t>(names_.size());
  SEQTRAIN_CHECK(expected >= 0 && expected < classes && predicted >= 0 && predicted < classes,
                 "class {} or {} outside {} classes", expected, predicted, classes);
  ++counts_[expected][predicted];
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t sum = 0;
  for (const auto& row : counts_)
    for (std::int64_t count : row) sum += count;
  return sum;
}

nlohmann::json ConfusionMatrix::to_json() const {
  nlohmann::json per_class = nlohmann::json::object();
  for (std::size_t k = 0; k < names_.size(); ++k) {
    std::int64_t predicted = 0, actual = 0;
    for (std::size_t j = 0; j < names_.size(); ++j) {
      predicted += counts_[j][k];
      actual += counts_[k][j];
    }
    const auto hits = static_cast<double>(counts_[k][k]);
    const double precision = predicted == 0 ? 0.0 : hits / static_cast<double>(predicted);
    const double recall = actual == 0 ? 0.0 : hits / static_cast<double>(actual);
    per_class[names_[k]] = {
        {"precision", precision},
        {"recall", recall},
        {"f1", precision + recall == 0.0 ? 0.0 : 2 * precision * recall / (precision + recall)},
        {"support", actual}};
  }
  return {{"per_class", per_class},
          {"confusion_matrix", {{"labels", names_}, {"counts", counts_}}}};
}

}  // namespace seqtrain
