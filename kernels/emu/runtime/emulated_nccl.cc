// The NCCL calls of the NCCL communicator (src/backends/cuda/
// nccl_communicator.h), answered on the emulated device: the device buffers
// (host memory here) move between the processes of an mpirun over MPI, so
// 2 ranks of the CUDA backend run data-parallel without a GPU.
//
// What it models: a communicator per ncclCommInitRank over MPI_COMM_WORLD
// (whose size and rank must be nranks and rank; every rank's ncclUniqueId
// must be rank 0's, so an id that was not broadcast is caught); all-reduce
// (sum), reduce-scatter (sum), all-gather and broadcast of float, double,
// int32 and byte buffers, each buffer required to lie in device memory
// (DeviceFault otherwise); groups, whose collectives run in order at
// ncclGroupEnd; ncclCommGetAsyncError, ncclCommAbort, ncclCommDestroy.
// Collectives run when issued (or at the group's end), as the emulated
// streams do. One rank needs no MPI at all.
// What it does not: other reductions and types, NCCL's ring and tree
// algorithms (MPI's summation order instead), asynchrony, real failures.
// Tests make failures with fail_next_nccl_collective and
// stall_next_nccl_collective (emulated_device.h), or, in a process they start,
// with SEQTRAIN_EMULATED_NCCL_FAULT (planned_fault below).
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
#include <mpi.h>
#endif

#include "kernels/emu/runtime/device_state.h"
#include "kernels/emu/runtime/emulated_device.h"

struct ncclComm {
  int nranks = 1;
  int rank = 0;
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
  MPI_Comm mpi = MPI_COMM_NULL;
#endif
  ncclResult_t async_error = ncclSuccess;
  std::set<cudaStream_t> stalled;  // streams a stalled collective holds
};

namespace {

// Faults a test asked for (emulated_device.h), taken by the next collective.
int next_failure = 0;
bool next_stall = false;

// SEQTRAIN_EMULATED_NCCL_FAULT=RANK:INDEX:stall|fail: the INDEX-th collective
// (1-based) that rank RANK issues stalls or fails (ncclRemoteError), for
// tests that run seqtrain itself under mpirun. Read once.
struct PlannedFault {
  int rank = -1;
  long index = 0;
  bool stall = false;
};

PlannedFault planned_fault() {
  PlannedFault fault;
  const char* text = std::getenv("SEQTRAIN_EMULATED_NCCL_FAULT");
  if (text == nullptr) return fault;
  char kind[8] = {};
  if (std::sscanf(text, "%d:%ld:%7s", &fault.rank, &fault.index, kind) != 3 ||
      (std::strcmp(kind, "stall") != 0 && std::strcmp(kind, "fail") != 0)) {
    std::fprintf(stderr, "SEQTRAIN_EMULATED_NCCL_FAULT=%s: expected RANK:INDEX:stall|fail\n", text);
    std::abort();
  }
  fault.stall = std::strcmp(kind, "stall") == 0;
  return fault;
}

void take_planned_fault(const ncclComm& comm) {
  static const PlannedFault fault = planned_fault();
  static long issued = 0;
  if (fault.rank != comm.rank || ++issued != fault.index) return;
  if (fault.stall)
    next_stall = true;
  else
    next_failure = ncclRemoteError;
}

thread_local int group_depth = 0;
thread_local std::vector<std::function<ncclResult_t()>> grouped;

std::size_t size_of(ncclDataType_t type) {
  switch (type) {
    case ncclInt8:
    case ncclUint8: return 1;
    case ncclInt32: return 4;
    case ncclFloat32: return 4;
    case ncclFloat64: return 8;
    default: return 0;  // not emulated
  }
}

#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
MPI_Datatype mpi_type(ncclDataType_t type) {
  switch (type) {
    case ncclInt8: return MPI_SIGNED_CHAR;
    case ncclUint8: return MPI_UNSIGNED_CHAR;
    case ncclInt32: return MPI_INT;
    case ncclFloat32: return MPI_FLOAT;
    default: return MPI_DOUBLE;
  }
}

int mpi_count(std::size_t count) {
  return static_cast<int>(count);
}
#endif

// The collective now, or at the group's end; the comm's stream, buffers and
// the faults a test asked for are checked first.
ncclResult_t run_or_group(ncclComm_t comm, cudaStream_t stream,
                          std::function<ncclResult_t()> collective) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (!seqtrain::emu::runtime::stream_is_valid(stream)) return ncclInvalidArgument;
  take_planned_fault(*comm);
  // A stream runs in order: behind a collective that never finishes (or
  // failed), nothing more on this communicator runs.
  if (!comm->stalled.empty() || comm->async_error != ncclSuccess) next_stall = true;
  if (next_failure != 0) {
    // Reported asynchronously, as a peer's failure is; the collective it was
    // in never finishes.
    comm->async_error = static_cast<ncclResult_t>(next_failure);
    next_failure = 0;
    next_stall = true;
  }
  if (next_stall) {
    next_stall = false;
    seqtrain::emu::runtime::stall_stream(stream);
    comm->stalled.insert(stream);
    return ncclSuccess;  // never finishes
  }
  if (group_depth > 0) {
    grouped.push_back(std::move(collective));
    return ncclSuccess;
  }
  return collective();
}

void require_device(const void* buffer, std::size_t bytes, const char* what) {
  seqtrain::emu::runtime::require_device_range(buffer, bytes, what);
}

}  // namespace

namespace seqtrain::emu {

void fail_next_nccl_collective(int nccl_result) {
  next_failure = nccl_result;
}
void stall_next_nccl_collective() {
  next_stall = true;
}

}  // namespace seqtrain::emu

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}

const char* ncclGetLastError(ncclComm_t) {
  return "";
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  if (uniqueId == nullptr) return ncclInvalidArgument;
  std::memset(uniqueId->internal, 0, sizeof(uniqueId->internal));
  std::random_device entropy;
  const std::string id = "seqtrain emulated NCCL " + std::to_string(::getpid()) + " " +
                         std::to_string(entropy()) + " " + std::to_string(entropy());
  std::memcpy(uniqueId->internal, id.data(), std::min(id.size(), sizeof(uniqueId->internal)));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  if (comm == nullptr || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  if (std::strncmp(commId.internal, "seqtrain emulated NCCL ", 23) != 0)
    return ncclInvalidArgument;  // not an id ncclGetUniqueId made
  auto made = std::make_unique<ncclComm>();
  made->nranks = nranks;
  made->rank = rank;
  if (nranks > 1) {
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
    int initialised = 0, size = 0, world_rank = 0;
    MPI_Initialized(&initialised);
    if (!initialised) return ncclInvalidUsage;  // the emulation travels over MPI
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    if (size != nranks || world_rank != rank) return ncclInvalidArgument;
    MPI_Comm_dup(MPI_COMM_WORLD, &made->mpi);
    // Every rank must hold rank 0's id: the caller's broadcast of it.
    ncclUniqueId root = commId;
    MPI_Bcast(root.internal, NCCL_UNIQUE_ID_BYTES, MPI_CHAR, 0, made->mpi);
    int differs = std::memcmp(root.internal, commId.internal, NCCL_UNIQUE_ID_BYTES) != 0;
    MPI_Allreduce(MPI_IN_PLACE, &differs, 1, MPI_INT, MPI_MAX, made->mpi);
    if (differs != 0) {
      MPI_Comm_free(&made->mpi);
      return ncclInvalidUsage;
    }
#else
    return ncclSystemError;  // built without MPI: one rank only
#endif
  }
  *comm = made.release();
  return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  if (comm == nullptr || asyncError == nullptr) return ncclInvalidArgument;
  *asyncError = comm->async_error;
  return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (comm == nullptr || count == nullptr) return ncclInvalidArgument;
  *count = comm->nranks;
  return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (comm == nullptr || rank == nullptr) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}

namespace {

ncclResult_t end_comm(ncclComm_t comm, bool aborting) {
  if (comm == nullptr) return ncclInvalidArgument;
  for (cudaStream_t stream : comm->stalled) seqtrain::emu::runtime::release_stream(stream);
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
  // An aborted communicator's peers may be gone: it is not freed collectively.
  if (comm->mpi != MPI_COMM_NULL && !aborting) MPI_Comm_free(&comm->mpi);
#else
  static_cast<void>(aborting);
#endif
  delete comm;
  return ncclSuccess;
}

}  // namespace

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  return end_comm(comm, true);
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  return end_comm(comm, false);
}

ncclResult_t ncclGroupStart() {
  ++group_depth;
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
  if (group_depth == 0) return ncclInvalidUsage;
  if (--group_depth > 0) return ncclSuccess;
  std::vector<std::function<ncclResult_t()>> collectives;
  collectives.swap(grouped);
  ncclResult_t result = ncclSuccess;
  for (auto& collective : collectives)
    if (const ncclResult_t status = collective(); result == ncclSuccess) result = status;
  return result;
}

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  const std::size_t bytes = count * size_of(datatype);
  if (size_of(datatype) == 0 || op != ncclSum) return ncclInvalidArgument;
  require_device(sendbuff, bytes, "ncclAllReduce sendbuff");
  require_device(recvbuff, bytes, "ncclAllReduce recvbuff");
  return run_or_group(comm, stream, [=]() {
    if (sendbuff != recvbuff) std::memmove(recvbuff, sendbuff, bytes);
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
    if (comm->nranks > 1)
      MPI_Allreduce(MPI_IN_PLACE, recvbuff, mpi_count(count), mpi_type(datatype), MPI_SUM,
                    comm->mpi);
#endif
    return ncclSuccess;
  });
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  const std::size_t bytes = count * size_of(datatype);
  if (size_of(datatype) == 0 || comm == nullptr || root < 0 || root >= comm->nranks)
    return ncclInvalidArgument;
  if (comm->rank == root) require_device(sendbuff, bytes, "ncclBroadcast sendbuff");
  require_device(recvbuff, bytes, "ncclBroadcast recvbuff");
  return run_or_group(comm, stream, [=]() {
    if (comm->rank == root && sendbuff != recvbuff) std::memmove(recvbuff, sendbuff, bytes);
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
    if (comm->nranks > 1)
      MPI_Bcast(recvbuff, mpi_count(count), mpi_type(datatype), root, comm->mpi);
#endif
    return ncclSuccess;
  });
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  const std::size_t bytes = recvcount * size_of(datatype);
  if (size_of(datatype) == 0 || op != ncclSum || comm == nullptr) return ncclInvalidArgument;
  require_device(sendbuff, bytes * static_cast<std::size_t>(comm->nranks),
                 "ncclReduceScatter sendbuff");
  require_device(recvbuff, bytes, "ncclReduceScatter recvbuff");
  return run_or_group(comm, stream, [=]() {
    // A copy of the input: NCCL allows recvbuff inside sendbuff (in place).
    const auto* all = static_cast<const char*>(sendbuff);
    std::vector<char> input(all, all + bytes * static_cast<std::size_t>(comm->nranks));
    if (comm->nranks == 1) {
      std::memcpy(recvbuff, input.data(), bytes);
      return ncclSuccess;
    }
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
    MPI_Reduce_scatter_block(input.data(), recvbuff, mpi_count(recvcount), mpi_type(datatype),
                             MPI_SUM, comm->mpi);
#endif
    return ncclSuccess;
  });
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  const std::size_t bytes = sendcount * size_of(datatype);
  if (size_of(datatype) == 0 || comm == nullptr) return ncclInvalidArgument;
  require_device(sendbuff, bytes, "ncclAllGather sendbuff");
  require_device(recvbuff, bytes * static_cast<std::size_t>(comm->nranks),
                 "ncclAllGather recvbuff");
  return run_or_group(comm, stream, [=]() {
    const auto* mine = static_cast<const char*>(sendbuff);
    std::vector<char> input(mine, mine + bytes);  // sendbuff may lie inside recvbuff
    if (comm->nranks == 1) {
      std::memcpy(recvbuff, input.data(), bytes);
      return ncclSuccess;
    }
#if SEQTRAIN_EMULATED_NCCL_WITH_MPI
    MPI_Allgather(input.data(), mpi_count(sendcount), mpi_type(datatype), recvbuff,
                  mpi_count(sendcount), mpi_type(datatype), comm->mpi);
#endif
    return ncclSuccess;
  });
}
