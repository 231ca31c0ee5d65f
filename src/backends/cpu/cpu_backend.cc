// TEMPORARY until the cpu backend lands: the serial backend under the cpu name.
#include "seqtrain/backend.h"

namespace seqtrain {
std::unique_ptr<Backend> make_cpu_backend(int) { return make_serial_backend(); }
}  // namespace seqtrain
