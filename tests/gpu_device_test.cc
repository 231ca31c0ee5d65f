// What only a real GPU shows (seqtrain_gpu_tests; scripts/gpu_check.sh runs
// them): the device is a GPU, cuDNN's recurrent layer against the fused one
// and the serial oracle (values and gradients; the emulation has no cuDNN),
// the caching allocator under many shapes, and work queued on the backend's
// stream finishing before the copy back. The device-neutral backend tests
// (kernels_cuda_backend_test.cc and the others of seqtrain_gpu_tests) run
// here too, with the expectations they have on the emulated device.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "backends/device_selection.h"
#include "backends/serial/serial_backend.h"
#include "cuda_backend_test_support.h"
#include "seqtrain/rng.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

TEST(GpuDevice, TheDeviceIsARealGpu) {
  const CudaDeviceQuery devices = query_cuda_devices();
  ASSERT_GE(devices.count, 1) << devices.description;
  EXPECT_NE(devices.description.find("(sm_"), std::string::npos) << devices.description;
  EXPECT_EQ(devices.description.find("emulated"), std::string::npos) << devices.description;
  CudaBackend cuda(0);
  std::cout << "device: " << cuda.description() << "\n";
}

class GpuCudnnRnn : public ::testing::TestWithParam<RnnCell> {};

// cuDNN's layer and the fused layer on the same inputs, both against serial:
// every output and gradient but the workspace (whose layout is each one's own).
TEST_P(GpuCudnnRnn, MatchesTheFusedLayerAndSerial) {
  for (bool reverse : {false, true})
    for (bool initial_state : {true, false}) {
      RnnCase c;
      c.cell = GetParam();
      c.reverse = reverse;
      c.initial_state = initial_state;
      c.state_grad = initial_state;
      SCOPED_TRACE(describe(c));
      SerialBackend serial;
      CudaBackend fused(0);
      CudaBackend cudnn(0, RnnImpl::cudnn);
      RnnTensors expected = make_rnn_inputs(c);
      RnnTensors on_fused, on_cudnn;
      for (const auto& [name, host] : expected.t) {
        on_fused.t[name] = to_device(fused, host);
        on_cudnn.t[name] = to_device(cudnn, host);
      }
      run_rnn(serial, c, expected);
      run_rnn(fused, c, on_fused);
      run_rnn(cudnn, c, on_cudnn);
      for (const char* name : {"y", "h_n", "c_n", "dx", "dweight_ih", "dweight_hh", "dbias_ih",
                               "dbias_hh", "dh0", "dc0"}) {
        const Tensor from_cudnn = to_host(cudnn, on_cudnn.t.at(name));
        EXPECT_TRUE(tensors_close(from_cudnn, expected.t.at(name), 1e-5, 1e-4)) << name << " cudnn";
        EXPECT_TRUE(tensors_close(from_cudnn, to_host(fused, on_fused.t.at(name)), 1e-5, 1e-4))
            << name << " cudnn vs fused";
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Cells, GpuCudnnRnn,
                         ::testing::Values(RnnCell::lstm, RnnCell::gru, RnnCell::rnn_tanh),
                         [](const auto& info) { return std::string(rnn_cell_name(info.param)); });

// Three rounds over the same 300 shapes (1 to 3 MiB spread over many size
// classes, a third kept alive between rounds): every tensor reads back what
// was written, and once the first round has filled the cache the device
// sees no new allocation.
TEST(GpuDevice, CachingAllocatorUnderManyShapesKeepsValuesAndStopsAllocating) {
  CudaBackend cuda(0);
  Rng rng(3, 0);
  std::vector<Shape> shapes;
  for (int i = 0; i < 300; ++i)
    shapes.push_back({1 + static_cast<std::int64_t>(rng.next_below(700)),
                      1 + static_cast<std::int64_t>(rng.next_below(1100))});
  std::size_t mallocs_after_first_round = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> kept;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const Tensor host = random_tensor(shapes[i], 1000 * round + i);
      Tensor device = to_device(cuda, host);
      ASSERT_TRUE(tensors_close(to_host(cuda, device), host, 0.0, 0.0)) << shape_string(shapes[i]);
      if (i % 3 == 0) kept.push_back(std::move(device));
    }
    for (std::size_t k = 0; k < kept.size(); ++k)
      ASSERT_TRUE(tensors_close(to_host(cuda, kept[k]), random_tensor(shapes[3 * k], 1000 * round + 3 * k),
                                0.0, 0.0));
    if (round == 0) mallocs_after_first_round = cuda.allocator_stats().device_mallocs;
  }
  EXPECT_EQ(cuda.allocator_stats().device_mallocs, mallocs_after_first_round);
}

// Fifty accumulating GEMMs queued back to back, then one copy to the host
// with no explicit synchronisation: the copy waits for them (one stream).
TEST(GpuDevice, WorkQueuedOnTheStreamFinishesBeforeTheCopyBack) {
  SerialBackend serial;
  CudaBackend cuda(0);
  const Tensor a = random_tensor({256, 192}, 1, 0.1f), b = random_tensor({192, 320}, 2, 0.1f);
  Tensor expected = Tensor::zeros({256, 320});
  Tensor on_device = to_device(cuda, expected);
  const Tensor a_device = to_device(cuda, a), b_device = to_device(cuda, b);
  for (int i = 0; i < 50; ++i) {
    serial.matmul(a, b, expected, false, false, 1.0f, 1.0f);
    cuda.matmul(a_device, b_device, on_device, false, false, 1.0f, 1.0f);
  }
  EXPECT_TRUE(tensors_close(to_host(cuda, on_device), expected, 1e-4, 1e-4));
}

}  // namespace
}  // namespace seqtrain::testing
