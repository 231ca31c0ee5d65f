// SequenceDataset: the data of a sequence task (charlm, adding,
// classification), a source of SequenceBatches (data/batch_source.h).
#pragma once

#include "data/batch_source.h"
#include "data/sequence_batch.h"

namespace seqtrain {

using SequenceDataset = BatchSource<SequenceBatch>;

}  // namespace seqtrain
