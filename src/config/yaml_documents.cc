#include "config/yaml_documents.h"

#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>

namespace seqtrain {
namespace {

// Records where each document starts and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last_start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::optional<YAML::Mark> last_start;
};

// Parses every document of text for its events only; throws where the
// parser stops making progress (see the header).
void check_documents_end(const std::string& text) {
  std::istringstream input(text);
  YAML::Parser parser(input);
  DocumentStarts starts;
  std::optional<int> previous_start;
  while (parser.HandleNextDocument(starts)) {
    if (starts.last_start && previous_start && starts.last_start->pos == *previous_start)
      throw YAML::ParserException(*starts.last_start, "no YAML value can start here");
    if (starts.last_start) previous_start = starts.last_start->pos;
  }
}

}  // namespace

std::vector<YAML::Node> load_yaml_documents(const std::string& text) {
  check_documents_end(text);
  return YAML::LoadAll(text);
}

YAML::Node load_yaml_document(const std::string& text) {
  check_documents_end(text);
  return YAML::Load(text);
}

}  // namespace seqtrain
