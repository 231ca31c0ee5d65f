// MlmBatchSource: masked-LM data, a source of MlmBatches (data/batch_source.h)
// whose masks are part of each batch, so a restored position redraws them too.
#pragma once

#include "data/batch_source.h"
#include "data/mlm_batch.h"

namespace seqtrain {

using MlmBatchSource = BatchSource<MlmBatch>;

}  // namespace seqtrain
