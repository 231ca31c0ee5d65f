// Every key seqtrain reads: its path (the path of its RunConfig member), type,
// default, range or choices, the conditions under which it applies, and its
// doc, declared in run_config_keys.cc with the binding machinery of
// run_config_binding.h.
#pragma once

#include "config/run_config_binding.h"

namespace seqtrain {

// The table, built and checked for consistency on first use.
const RunConfigTable& run_config_table();

}  // namespace seqtrain
