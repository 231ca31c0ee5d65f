// Communicator: the processes of a data-parallel run and the collectives
// between them (issue 13's src/dist/). One per process, made at start from
// how the process was launched (make_communicator):
//   single process  not started by mpirun or srun: rank 0 of 1, collectives are
//                   no-ops, and MPI is never initialised
//   MPI             under mpirun (or srun --mpi=pmix): the MPI plug-in
//                   (libseqtrain_mpi.so, mpi_plugin.h) on host memory, for the
//                   serial and cpu backends
//   NCCL            the cuda backend's gradients: NCCL on device memory, in
//                   the CUDA plug-in (backends/cuda/nccl_communicator.h), its
//                   ranks those of an MPI communicator (device_communicator.h)
// Collectives are blocking (but start_all_reduce_sum) and every rank must call
// them in the same order with the same sizes. Their buffers lie in memory():
// host memory for single process and MPI, the device for NCCL, whose spans
// then hold device pointers (never dereferenced on the host).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "seqtrain/tensor.h"

namespace seqtrain {

// A collective started by Communicator::start_all_reduce_sum; wait() returns
// when its buffer holds the sum.
class PendingReduction {
 public:
  virtual ~PendingReduction() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // This process's index among the ranks on its node (GPU local_rank % devices).
  virtual int local_rank() const = 0;
  // "single process", or "MPI (Open MPI v4.1.4), 2 ranks".
  virtual std::string describe() const = 0;
  // Where the buffers of the collectives lie: Device::cpu (host memory), or
  // Device::cuda for NCCL (the spans hold device pointers of its backend).
  virtual Device memory() const { return Device::cpu; }

  // Every rank's buffer becomes the elementwise sum over the ranks.
  virtual void all_reduce_sum(std::span<float> values) = 0;
  virtual void all_reduce_sum(std::span<double> values) = 0;
  // The same without waiting (MPI_Iallreduce): values must stay alive and
  // untouched until the returned reduction's wait(). Every rank starts the
  // same reductions in the same order. By default it is done at once.
  virtual std::unique_ptr<PendingReduction> start_all_reduce_sum(std::span<float> values);
  // Every buffer of the list summed over the ranks, without waiting: for
  // buffers that are not one block (a gradient bucket on a device, reduced in
  // place, NCCL's group of all-reduces). By default each one is started alone.
  virtual std::unique_ptr<PendingReduction> start_all_reduce_sum_list(
      std::span<const std::span<float>> buffers);
  // Every rank's bytes become root's.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  // all[r * mine.size() + i] = rank r's mine[i].
  virtual void all_gather(std::span<const float> mine, std::span<float> all) = 0;
  // mine[i] = sum over ranks of their all[rank() * mine.size() + i].
  virtual void reduce_scatter_sum(std::span<const float> all, std::span<float> mine) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with exit_code (MPI_Abort; mpirun names this
  // rank), for an error one rank cannot share with the others.
  virtual void abort(int exit_code) = 0;  // does not return
};

std::unique_ptr<Communicator> make_single_process_communicator();

// How this process was started: by mpirun (Open MPI's OMPI_COMM_WORLD_*), by
// srun or another PMI launcher (PMI_RANK / PMIX_RANK), or alone.
struct Launch {
  bool by_launcher = false;
  std::string launcher;  // "mpirun", "PMI", or "" alone
  int rank = 0, world_size = 1;
};
Launch detect_launch();

// The communicator of this process's launch: single process when alone
// (without touching MPI); under a launcher, the MPI plug-in's, or a
// DeviceError saying why it cannot load.
std::unique_ptr<Communicator> make_communicator();

// One line for seqtrain info: whether the MPI plug-in loads here, and how
// this process was launched.
std::string describe_mpi();

}  // namespace seqtrain
