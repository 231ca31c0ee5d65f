// A classifier's confusion matrix (rows: expected class, columns: predicted)
// and the per-class precision, recall, F1 and support it implies, as
// `seqtrain eval` and `eval --data` report them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace seqtrain {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::vector<std::string> class_names);

  void add(std::int64_t expected, std::int64_t predicted);
  std::int64_t total() const;

  // {"per_class": {name: {precision, recall, f1, support}},
  //  "confusion_matrix": {"labels": [...], "counts": [[...]]}}; a class never
  // predicted (or never expected) has precision (recall) 0.
  nlohmann::json to_json() const;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<std::int64_t>> counts_;  // [expected][predicted]
};

}  // namespace seqtrain
