#include <fmt/format.h>

#include "seqtrain/backend.h"
#include "seqtrain/error.h"

namespace seqtrain {

void Backend::set_gemm_precision(Precision precision) {
  if (precision != Precision::fp32)
    throw ConfigError(fmt::format("training.precision {}: the {} backend has fp32 GEMMs only; use fp32",
                                  precision_name(precision), name()));
  gemm_precision_ = precision;
}

}  // namespace seqtrain
