// The MPI communicator (dist/communicator.h) on host memory, and the plug-in
// entry point that makes it (dist/mpi_plugin.h). Built into libseqtrain_mpi.so
// only: the one file of seqtrain that includes mpi.h.
//
// MPI is initialised on the first make_communicator (MPI_THREAD_FUNNELED: only
// the main thread calls MPI; the OpenMP pool never does) and finalised when
// the process exits. Errors abort the whole job (MPI_ERRORS_ARE_FATAL, MPI's
// default), which mpirun reports with the rank that failed.
#include <mpi.h>

#include <cstdlib>
#include <limits>
#include <string>

#include "dist/mpi_plugin.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

int count_of(std::size_t size) {
  SEQTRAIN_CHECK(size <= static_cast<std::size_t>(std::numeric_limits<int>::max()),
                 "an MPI message of {} elements (over INT_MAX)", size);
  return static_cast<int>(size);
}

struct MpiPendingReduction final : PendingReduction {
  MPI_Request request = MPI_REQUEST_NULL;
  ~MpiPendingReduction() override {
    if (request != MPI_REQUEST_NULL) MPI_Wait(&request, MPI_STATUS_IGNORE);
  }
  void wait() override { MPI_Wait(&request, MPI_STATUS_IGNORE); }
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
      });
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string describe() const override {
    return "MPI, " + std::to_string(size_) + " ranks";
  }

  void all_reduce_sum(std::span<float> values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
  }
  void all_reduce_sum(std::span<double> values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum(std::span<float> values) override {
    auto pending = std::make_unique<MpiPendingReduction>();
    MPI_Iallreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_FLOAT, MPI_SUM,
                   MPI_COMM_WORLD, &pending->request);
    return pending;
  }
  void broadcast(std::span<std::byte> bytes, int root) override {
    MPI_Bcast(bytes.data(), count_of(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD);
  }
  void all_gather(std::span<const float> mine, std::span<float> all) override {
    SEQTRAIN_CHECK(all.size() == mine.size() * static_cast<std::size_t>(size_),
                   "all_gather of {} into {} over {} ranks", mine.size(), all.size(), size_);
    MPI_Allgather(mine.data(), count_of(mine.size()), MPI_FLOAT, all.data(),
                  count_of(mine.size()), MPI_FLOAT, MPI_COMM_WORLD);
  }
  void reduce_scatter_sum(std::span<const float> all, std::span<float> mine) override {
    SEQTRAIN_CHECK(all.size() == mine.size() * static_cast<std::size_t>(size_),
                   "reduce_scatter of {} into {} over {} ranks", all.size(), mine.size(), size_);
    MPI_Reduce_scatter_block(all.data(), mine.data(), count_of(mine.size()), MPI_FLOAT, MPI_SUM,
                             MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

std::string library_version() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, static_cast<std::size_t>(length));
  const std::size_t end = text.find_first_of(",\n");  // "Open MPI v4.1.4, package: ..."
  return end == std::string::npos ? text : text.substr(0, end);
}

std::unique_ptr<Communicator> make_mpi_communicator() {
  return std::make_unique<MpiCommunicator>();
}

const MpiPluginApi kApi{kMpiPluginAbi, SEQTRAIN_VERSION, library_version, make_mpi_communicator};

}  // namespace
}  // namespace seqtrain

extern "C" __attribute__((visibility("default"))) const seqtrain::MpiPluginApi*
seqtrain_mpi_plugin_api() {
  return &seqtrain::kApi;
}
