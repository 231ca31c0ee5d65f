// seqtrain_kernel_tests runs the CUDA backend on the emulated device, linked
// in rather than loaded as the plug-in: registered here, before main, so that
// device selection (query_cuda_devices, make_cuda_backend) reaches it too.
#include "backends/cuda_plugin.h"
#include "test_support.h"

extern "C" const seqtrain::CudaPluginApi* seqtrain_cuda_plugin_api();

namespace seqtrain::testing {
namespace {

const bool registered = [] {
  use_linked_cuda_backend(seqtrain_cuda_plugin_api());
  return true;
}();

TEST(EmulatedCudaBackend, DeviceSelectionReachesTheLinkedVariant) {
  ASSERT_TRUE(registered);
  EXPECT_EQ(cuda_plugin().path, "linked in");
  EXPECT_TRUE(cuda_backend_available());
  const CudaDeviceQuery devices = query_cuda_devices();
  EXPECT_GE(devices.count, 1) << devices.description;
  EXPECT_EQ(select_backend("cuda", 1)->name(), "cuda");
}

}  // namespace
}  // namespace seqtrain::testing
