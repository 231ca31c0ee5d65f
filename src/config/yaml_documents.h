// Loading YAML text with yaml-cpp without its endless loop. yaml-cpp 0.7
// (Debian 12's) reads some invalid YAML, such as text that starts with ','
// (", a"), as an endless stream of empty documents at the same place:
// YAML::LoadAll then never returns and allocates until memory runs out, and
// YAML::Load returns null as if nothing were there (yaml-cpp issue #1040;
// fixed upstream after 0.8.0 by pull request #1319). fuzz/run_config_fuzzer
// found it in the config loader. These walk the documents' events first and
// refuse, as invalid YAML, a document that starts where the one before it did.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace seqtrain {

// What YAML::LoadAll(text) gives; YAML::ParserException for invalid YAML,
// the text it never returns from included.
std::vector<YAML::Node> load_yaml_documents(const std::string& text);

// What YAML::Load(text) gives (the first document, null for none), with the
// same check.
YAML::Node load_yaml_document(const std::string& text);

}  // namespace seqtrain
