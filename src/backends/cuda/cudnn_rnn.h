// cuDNN's recurrent layer behind the cuda backend's rnn_forward / rnn_backward,
// for layers that ask for it (RnnImpl::cudnn, `model.impl: cudnn`): so that a
// user with a GPU can compare seqtrain's fused cell kernels (cuda_rnn.cc) with
// NVIDIA's implementation on the same layer, in the same trainer and benchmark.
//
// UNTESTED ON A GPU. It compiles against the toolkit's cuDNN 9 here and in CI,
// but no machine this project builds on has a GPU, and the emulated device
// (kernels/emu/runtime) does not emulate cuDNN: there make_cudnn_rnn throws. See
// docs/cuda.md ("cuDNN LSTM") for what a first GPU run should check.
//
// What it does, per layer and pass (cudnn_rnn.cc):
//   forward   copies W_ih, W_hh, b_ih, b_hh into cuDNN's zeroed weight space
//             (one matrix and bias per gate, at the addresses
//             cudnnGetRNNWeightParams gives for that space, each checked to be
//             a row-major [H, columns] matrix inside it), then
//             cudnnRNNForward (training or inference mode) on the padded
//             time-major layout (CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, the
//             rows' lengths, padding filled with 0), unidirectional, double bias
//             (PyTorch's), FMA math (no TF32, as our fp32 cuBLAS GEMMs).
//   backward  cudnnRNNBackwardData_v8 (dx, dh0, dc0), then
//             cudnnRNNBackwardWeights_v8 into a zeroed gradient space, copied
//             out to dW_ih, dW_hh, db_ih, db_hh.
// cuDNN's reserve space and the packed weights live from a layer's training
// forward to its backward, kept here under the layer's output pointer (y),
// which the graph's memory plan keeps alive and distinct in between; an
// evaluation forward runs in inference mode and keeps nothing. Padded steps of
// y and dx are zeroed after the calls, so they hold zeros whatever cuDNN
// writes there.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backends/cuda/device_allocator.h"
#include "seqtrain/backend.h"

namespace seqtrain {

class CudnnRnn {
 public:
  virtual ~CudnnRnn() = default;
  // lengths: the rows' sequence lengths, already read back and checked.
  virtual void forward(const RnnForwardArgs& args, const std::vector<std::int32_t>& lengths) = 0;
  virtual void backward(const RnnBackwardArgs& args, const std::vector<std::int32_t>& lengths) = 0;
};

// Creates a cuDNN handle on stream. Throws DeviceError where cuDNN cannot run:
// a build without cuDNN, the emulated device, or cudnnCreate failing.
std::unique_ptr<CudnnRnn> make_cudnn_rnn(cudaStream_t stream,
                                         std::shared_ptr<cuda::DeviceAllocator> allocator);

}  // namespace seqtrain
