#include "dist/communicator.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/plugin_files.h"
#include "dist/mpi_plugin.h"
#include "seqtrain/error.h"

namespace seqtrain {

std::unique_ptr<PendingReduction> Communicator::start_all_reduce_sum(std::span<float> values) {
  struct Done final : PendingReduction {
    void wait() override {}
  };
  all_reduce_sum(values);
  return std::make_unique<Done>();
}

std::unique_ptr<PendingReduction> Communicator::start_all_reduce_sum_list(
    std::span<const std::span<float>> buffers) {
  struct Each final : PendingReduction {
    std::vector<std::unique_ptr<PendingReduction>> started;
    void wait() override {
      for (auto& one : started) one->wait();
    }
  };
  auto each = std::make_unique<Each>();
  for (std::span<float> buffer : buffers) each->started.push_back(start_all_reduce_sum(buffer));
  return each;
}

namespace {

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string describe() const override { return "single process"; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<std::byte>, int) override {}
  void all_gather(std::span<const float> mine, std::span<float> all) override {
    std::copy(mine.begin(), mine.end(), all.begin());
  }
  void reduce_scatter_sum(std::span<const float> all, std::span<float> mine) override {
    std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(mine.size()), mine.begin());
  }
  void barrier() override {}
  void abort(int exit_code) override { std::exit(exit_code); }
};

int environment_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  return end != value && *end == '\0' && parsed >= 0 ? static_cast<int>(parsed) : fallback;
}

MpiPlugin load_mpi_plugin() {
  MpiPlugin plugin;
#if !SEQTRAIN_WITH_MPI
  plugin.unavailable =
      "not built (install OpenMPI, libopenmpi-dev, and reconfigure: scripts/setup.sh does)";
  return plugin;
#else
  const FoundPlugin found = find_plugin(
      "MPI", kMpiPluginFile, "SEQTRAIN_MPI_PLUGIN", SEQTRAIN_MPI_PLUGIN_BUILD_PATH,
      kMpiPluginEntry, kMpiPluginAbi, [](const std::string& path, std::string& error) -> void* {
        // RTLD_GLOBAL: Open MPI's components, loaded later, resolve against libmpi.
        void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
        if (handle == nullptr)
          error = fmt::format("{} (is Open MPI installed? libmpi.so.40 must be on the loader "
                              "path)",
                              ::dlerror());
        return handle;
      });
  return MpiPlugin::from(found);
#endif
}

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

Launch detect_launch() {
  Launch launch;
  if (const int size = environment_int("OMPI_COMM_WORLD_SIZE", 0); size > 0) {
    launch = {true, "mpirun", environment_int("OMPI_COMM_WORLD_RANK", 0), size};
  } else if (const int size = environment_int("PMI_SIZE", 0); size > 0) {
    launch = {true, "PMI", environment_int("PMI_RANK", 0), size};
  } else if (std::getenv("PMIX_RANK") != nullptr) {
    launch = {true, "PMI", environment_int("PMIX_RANK", 0), 0};  // size from MPI
  }
  return launch;
}

const MpiPlugin& mpi_plugin() {
  static const MpiPlugin plugin = load_mpi_plugin();
  return plugin;
}

std::unique_ptr<Communicator> make_communicator() {
  const Launch launch = detect_launch();
  if (!launch.by_launcher) return make_single_process_communicator();
  const MpiPlugin& plugin = mpi_plugin();
  if (plugin.api == nullptr)
    throw DeviceError(fmt::format("started by {} (rank {}), but MPI is unavailable: {}",
                                  launch.launcher, launch.rank, plugin.unavailable));
  return plugin.api->make_communicator();
}

std::string describe_mpi() {
  const Launch launch = detect_launch();
  const std::string how =
      launch.by_launcher
          ? fmt::format("started by {} as rank {} of {}", launch.launcher, launch.rank,
                        launch.world_size > 0 ? std::to_string(launch.world_size) : "?")
          : "started alone (single process; mpirun -np N seqtrain ... for data parallel)";
  // Loading the plug-in does not initialise MPI: info may ask either way.
  const MpiPlugin& plugin = mpi_plugin();
  if (plugin.api == nullptr) return fmt::format("unavailable: {}; {}", plugin.unavailable, how);
  return fmt::format("{} (plug-in {}); {}", plugin.api->library_version(), plugin.path, how);
}

}  // namespace seqtrain
