// The checks of a run config that no single key can make: those that involve
// more than one key (heads must divide hidden_size; warmup must end before
// training does) or that depend on the task (charlm needs data.path). They
// run after every key has passed its own type and range checks.
#pragma once

#include "config/run_config.h"

namespace seqtrain {

class ConfigValues;

// A ConfigError that names the key which breaks a check, where its value came
// from, and how to fix it; values is what config was read from.
void check_across_keys(const ConfigValues& values, const RunConfig& config);

// model.cell is the older name of model.type for the recurrent types: given
// alone it sets model.type; given with model.type the two must agree. Then
// config.model.cell follows model.type.
void resolve_model_type_alias(const ConfigValues& values, RunConfig& config);

}  // namespace seqtrain
