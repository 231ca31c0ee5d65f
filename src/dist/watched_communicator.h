// A Communicator whose collectives are watched: when this rank has waited
// longer than a timeout in one collective (the others never came: a rank is
// hung, stopped or stuck), it says so in one line naming itself and the
// collective and ends the process with exit code 124, which makes mpirun end
// the whole job. A rank that dies is mpirun's to notice; this is for the
// ranks left waiting on one that did not die.
//
// The timeout must exceed every wait a healthy run has: the other ranks wait
// in their next collective while rank 0 validates and writes a checkpoint
// (distributed.timeout_s, docs/distributed.md).
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace seqtrain {

// Forwards every call to `inner` (which must outlive it), watching each
// collective with a watchdog thread; timeout_seconds > 0.
std::unique_ptr<Communicator> watch_collectives(Communicator& inner, double timeout_seconds);

}  // namespace seqtrain
