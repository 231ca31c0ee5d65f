// seqtrain info: version, build features, vector ISA, devices, BLAS and threads.
#include <fmt/format.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/cpu/cpu_isa.h"
#include "backends/device_selection.h"
#include "cli/commands.h"
#include "dist/communicator.h"
#include "dist/device_communicator.h"

namespace seqtrain {

void register_info_command(CLI::App& app, CommandRegistry& commands) {
  CLI::App* info = app.add_subcommand("info", "Print the version, build features, devices and threads");
  commands.add(info, [] {
    const dnnl_version_t* onednn = dnnl_version();
    fmt::print("seqtrain {} (commit {})\n", SEQTRAIN_VERSION, SEQTRAIN_GIT_COMMIT);
    fmt::print("build:     {} {}, C++{}\n", __VERSION__, SEQTRAIN_BUILD_TYPE, __cplusplus / 100 % 100);
    fmt::print("backends:  serial, cpu{}\n", cuda_backend_available() ? ", cuda" : "");
    fmt::print("cuda:      {}\n", describe_cuda_build());
    fmt::print("cpu GEMM:  oneDNN {}.{}.{} ({} threading)\n", onednn->major, onednn->minor,
               onednn->patch, onednn->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
    std::string usable;
    for (cpu::CpuIsa isa : cpu::usable_cpu_isas())
      usable += fmt::format("{}{}", usable.empty() ? "" : ", ", cpu::cpu_isa_name(isa));
    fmt::print("vector:    {} kernels on the cpu backend (this build and CPU: {}; "
               "SEQTRAIN_CPU_ISA picks one)\n",
               cpu::cpu_isa_name(cpu::selected_cpu_isa()), usable);
    fmt::print("cpu:       {}\n", cpu::cpu_vector_features());
    fmt::print("threads:   {} (OpenMP, one pool; OMP_NUM_THREADS or the config's threads key)\n",
               omp_get_max_threads());
    fmt::print("devices:   {}\n", describe_devices());
    fmt::print("mpi:       {}\n", describe_mpi());
    fmt::print("nccl:      {}\n", describe_nccl());
    return 0;
  });
}

}  // namespace seqtrain
