#include "backends/cuda_plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <glob.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <vector>

#include "core/plugin_files.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

const CudaPluginApi* linked_api = nullptr;

#if SEQTRAIN_WITH_CUDA

void append_split(std::vector<fs::path>& folders, const char* list) {
  if (list == nullptr) return;
  std::string rest = list;
  while (!rest.empty()) {
    const std::size_t colon = rest.find(':');
    const std::string folder = rest.substr(0, colon);
    if (!folder.empty()) folders.emplace_back(folder);
    rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
  }
}

void append_glob(std::vector<fs::path>& folders, const std::string& pattern) {
  glob_t matches{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches) == 0)
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) folders.emplace_back(matches.gl_pathv[i]);
  ::globfree(&matches);
}

// Folders that may hold the CUDA libraries when the loader does not find them.
std::vector<fs::path> cuda_library_folders() {
  std::vector<fs::path> folders;
  append_split(folders, std::getenv("SEQTRAIN_CUDA_LIBRARY_PATH"));
  folders.emplace_back("/usr/local/cuda/lib64");
  folders.emplace_back("/usr/local/cuda/lib");
  folders.emplace_back("/usr/local/cuda/targets/x86_64-linux/lib");
  // Python's CUDA wheels (nvidia-cuda-runtime, nvidia-cublas, nvidia-cudnn,
  // nvidia-nccl, ...): site-packages/nvidia/<name>/lib, in the usual places.
  std::vector<std::string> site_packages = {"/usr/local/lib/python3*/dist-packages",
                                            "/usr/local/lib/python3*/site-packages",
                                            "/usr/lib/python3/dist-packages",
                                            "/opt/conda/lib/python3*/site-packages"};
  for (const char* variable : {"VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_ROOT"})
    if (const char* prefix = std::getenv(variable)) {
      site_packages.push_back(std::string(prefix) + "/lib/python3*/site-packages");
      site_packages.push_back(std::string(prefix) + "/versions/*/lib/python3*/site-packages");
    }
  if (const char* home = std::getenv("HOME")) {
    site_packages.push_back(std::string(home) + "/.local/lib/python3*/site-packages");
    site_packages.push_back(std::string(home) + "/.pyenv/versions/*/lib/python3*/site-packages");
  }
  for (const std::string& packages : site_packages) {
    append_glob(folders, packages + "/nvidia/*/lib");
    append_glob(folders, packages + "/nvidia/cu*/lib");  // CUDA 13 wheels: nvidia/cu13/lib
  }
  return folders;
}

// The library a failed dlopen could not find ("libcudart.so.13: cannot open
// shared object file: ..."), or "" when it failed for another reason.
std::string missing_library(const std::string& error) {
  const std::string marker = ": cannot open shared object file";
  const std::size_t end = error.find(marker);
  if (end == std::string::npos) return "";
  const std::size_t begin = error.rfind(": ", end - 1);
  const std::string name = error.substr(begin == std::string::npos ? 0 : begin + 2,
                                        end - (begin == std::string::npos ? 0 : begin + 2));
  return name.find('/') == std::string::npos ? name : "";
}

class Loader {
 public:
  // dlopens path (a file), first preloading (RTLD_GLOBAL, from the folders)
  // each library it needs that the loader cannot find. nullptr and error set
  // when that fails.
  void* open(const std::string& path, std::string& error) {
    for (int attempt = 0; attempt < 32; ++attempt) {
      if (void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
      error = ::dlerror();
      const std::string missing = missing_library(error);
      if (missing.empty() || !preload(missing, error)) return nullptr;
    }
    return nullptr;
  }

 private:
  bool preload(const std::string& name, std::string& error) {
    if (!tried_.insert(name).second) return false;  // found before, yet still missing
    if (folders_.empty()) folders_ = cuda_library_folders();
    for (const fs::path& folder : folders_) {
      const fs::path candidate = folder / name;
      std::error_code ignored;
      if (!fs::is_regular_file(candidate, ignored)) continue;
      // Its own dependencies (libcublas needs libcublasLt) the same way.
      for (int attempt = 0; attempt < 32; ++attempt) {
        if (::dlopen(candidate.c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr) {
          preload_siblings(folder, name);
          return true;
        }
        error = ::dlerror();
        const std::string missing = missing_library(error);
        if (missing.empty() || !preload(missing, error)) return false;
      }
    }
    error = fmt::format(
        "it needs {}, which is not on the loader path (LD_LIBRARY_PATH, ldconfig), in "
        "/usr/local/cuda or in Python's nvidia CUDA wheels; install the CUDA 13 runtime "
        "libraries or name their folder in SEQTRAIN_CUDA_LIBRARY_PATH",
        name);
    return false;
  }

  // libcudnn.so.9 is a shim that dlopens libcudnn_graph.so.9 and the rest by
  // name at run time, which the loader finds only on its own path: loading
  // them from the shim's folder now makes those names resolve to them.
  void preload_siblings(const fs::path& folder, const std::string& name) {
    const std::size_t so = name.find(".so");
    if (so == std::string::npos) return;
    const std::string stem = name.substr(0, so) + "_";
    const std::string version = name.substr(so);  // ".so.9"
    std::error_code ignored;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, ignored)) {
      const std::string file = entry.path().filename().string();
      if (file.starts_with(stem) && file.ends_with(version))
        ::dlopen(entry.path().c_str(), RTLD_LAZY | RTLD_GLOBAL);
    }
  }

  std::vector<fs::path> folders_;
  std::set<std::string> tried_;
};

#endif  // SEQTRAIN_WITH_CUDA

CudaPlugin load_plugin() {
  CudaPlugin plugin;
  if (linked_api != nullptr) {
    plugin.api = linked_api;
    plugin.path = "linked in";
    return plugin;
  }
#if !SEQTRAIN_WITH_CUDA
  plugin.unavailable =
      "not built (configure with -DSEQTRAIN_CUDA=ON where the CUDA toolkit is installed)";
  return plugin;
#else
#if defined(SEQTRAIN_CUDA_PLUGIN_BUILD_PATH)
  const std::string build_path = SEQTRAIN_CUDA_PLUGIN_BUILD_PATH;
#else
  const std::string build_path;
#endif
  const FoundPlugin found = find_plugin(
      "CUDA", kCudaPluginFile, "SEQTRAIN_CUDA_PLUGIN", build_path, kCudaPluginEntry,
      kCudaPluginAbi, [](const std::string& path, std::string& error) {
        Loader loader;  // preloads the CUDA libraries the loader cannot find
        return loader.open(path, error);
      });
  return CudaPlugin::from(found);
#endif
}

}  // namespace

void use_linked_cuda_backend(const CudaPluginApi* api) { linked_api = api; }

const CudaPlugin& cuda_plugin() {
  static const CudaPlugin plugin = load_plugin();
  return plugin;
}

// ---- device_selection.h's CUDA entry points, through the plug-in ------------

bool cuda_backend_available() { return cuda_plugin().api != nullptr; }

std::string describe_cuda_build() {
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.api == nullptr) return "unavailable: " + plugin.unavailable;
  return fmt::format("{} (plug-in {})", plugin.api->describe_build(), plugin.path);
}

CudaDeviceQuery query_cuda_devices() {
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.api == nullptr) return {0, "unavailable: " + plugin.unavailable};
  return plugin.api->query_devices();
}

std::unique_ptr<Backend> make_cuda_backend(int device_index, RnnImpl recurrent_impl) {
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.api == nullptr)
    throw DeviceError("the CUDA backend is unavailable: " + plugin.unavailable +
                      "; use --device cpu");
  return plugin.api->make_backend(device_index, recurrent_impl);
}

}  // namespace seqtrain
