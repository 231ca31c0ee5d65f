#include "config/run_config.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <utility>

#include "config/config_yaml.h"
#include "config/run_config_binding.h"
#include "config/run_config_cross_key_checks.h"
#include "config/run_config_keys.h"
#include "config/run_config_values.h"
#include "config/schema.h"

namespace seqtrain {
namespace {

// The typed config: every key through its binding, then the values that no
// fixed default can give (run_dir from the task, mlm's warmup from the
// steps), and last the checks across keys, which see those derived values.
RunConfig run_config_from_values(const ConfigValues& values) {
  RunConfig config;
  for (const FieldBinding& binding : run_config_table().bindings()) binding.read(values, config);
  resolve_model_type_alias(values, config);
  // A transformer has no state to carry (run_config_keys.cc, training.carry_state).
  if (config.model.type == ModelType::transformer && !values.is_given("training.carry_state"))
    config.training.carry_state = false;
  if (config.run_dir.empty()) config.run_dir = fmt::format("runs/{}", task_name(config.task));
  if (config.task == Task::mlm && !values.is_given("training.schedule.warmup_steps"))
    config.training.schedule.warmup_steps = config.training.steps / 100;
  check_across_keys(values, config);
  return config;
}

}  // namespace

std::string_view to_string(Vocabulary vocabulary) {
  return kVocabularyNames[static_cast<std::size_t>(vocabulary)];
}
std::string_view to_string(OptimizerName name) {
  return kOptimizerNames[static_cast<std::size_t>(name)];
}

std::vector<MlmPhaseConfig> mlm_phases(const RunConfig& config) {
  if (!config.data.phases.empty()) return config.data.phases;
  return {MlmPhaseConfig{1, config.data.sequence_length, config.data.batch_size}};
}

const ConfigSchema& run_config_schema() {
  return run_config_table().schema();
}

RunConfig run_config_from_yaml_text(std::string_view text, const std::string& source_name,
                                    const std::vector<std::string>& overrides) {
  return run_config_from_values(
      read_config_yaml(run_config_schema(), text, source_name, overrides));
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  return run_config_from_yaml_text(read_config_file(path), path, overrides);
}

std::string resolved_yaml(const RunConfig& config) {
  return write_config_yaml(
      run_config_schema(), run_config_values(config),
      fmt::format("The complete configuration of this run (every key, defaults filled in),\n"
                  "written by seqtrain {}. Loading this file again gives the same run config.",
                  SEQTRAIN_VERSION));
}

std::string run_config_reference_markdown() {
  return schema_reference_markdown(run_config_schema());
}

}  // namespace seqtrain
