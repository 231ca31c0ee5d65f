// The NCCL communicator (dist/communicator.h) of the cuda backend: the
// collectives of a data-parallel run on device memory, so gradients are
// summed where they lie, never copied to the host.
//
//   set-up      rank 0 makes the ncclUniqueId (ncclGetUniqueId), the host
//               communicator (MPI) broadcasts it, and every rank joins with
//               ncclCommInitRank on its backend's device.
//   ordering    collectives run on a stream of their own. Each waits for an
//               event recorded on the backend's stream when it is issued (so
//               after the backward that wrote its buffers), and the backend's
//               stream waits for an event recorded after it (so the update
//               reads the sums). A list of buffers is one NCCL group
//               (ncclGroupStart/End): one launch for a whole gradient bucket.
//   watching    waiting for a collective polls its event and
//               ncclCommGetAsyncError; an NCCL error, or `timeout_seconds`
//               (distributed.timeout_s) without the collective finishing,
//               aborts the communicator (ncclCommAbort) and throws a
//               DeviceError of one line naming the collective and the rank,
//               which the trainer turns into the end of the job (MPI_Abort).
// barrier and abort go through the host communicator: they coordinate the
// ranks, they move no device data.
//
// Built into the CUDA plug-in only (where NCCL was found) and, for tests, on
// the emulated device, whose NCCL calls kernels/emu/runtime answers over MPI.
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace seqtrain {

class CudaBackend;

// host (which must outlive the result) gives the ranks and carries the
// ncclUniqueId; backend's device and stream are the collectives'.
// timeout_seconds <= 0: no timeout (NCCL errors are still watched).
std::unique_ptr<Communicator> make_nccl_communicator(CudaBackend& backend, Communicator& host,
                                                     double timeout_seconds);

// "NCCL 2.28.9", or why this build has none.
std::string describe_nccl_library();

}  // namespace seqtrain
