// TEMPORARY: the cpu recurrent layer lands with the LSTM work.
#include "backends/cpu/cpu_backend.h"

namespace seqtrain {
void CpuBackend::rnn_forward(const RnnForwardArgs&) { SEQTRAIN_CHECK(false, "rnn pending"); }
void CpuBackend::rnn_backward(const RnnBackwardArgs&) { SEQTRAIN_CHECK(false, "rnn pending"); }
}  // namespace seqtrain
