// TEMPORARY: the serial recurrent layer lands with the LSTM work.
#include "backends/serial/serial_backend.h"

namespace seqtrain {
void SerialBackend::rnn_forward(const RnnForwardArgs&) { SEQTRAIN_CHECK(false, "rnn pending"); }
void SerialBackend::rnn_backward(const RnnBackwardArgs&) { SEQTRAIN_CHECK(false, "rnn pending"); }
}  // namespace seqtrain
