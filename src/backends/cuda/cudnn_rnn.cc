// cuDNN's recurrent layer (cudnn_rnn.h). Compiled only into the GPU variant of
// the cuda backend, and only when cuDNN was found; cudnn_rnn_unavailable.cc
// stands in elsewhere.
#include "backends/cuda/cudnn_rnn.h"

#include <cudnn.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <unordered_map>

#include "backends/cuda/cuda_errors.h"
#include "backends/rnn_layout.h"
#include "seqtrain/error.h"

namespace seqtrain::cuda {

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  throw DeviceError(fmt::format("cuDNN error at {}:{}: {} returned {}", file, line, call,
                                cudnnGetErrorString(status)));
}

}  // namespace seqtrain::cuda

namespace seqtrain {
namespace {

// Owners of cuDNN's descriptors.
struct RnnDescriptorDeleter {
  void operator()(cudnnRNNStruct* d) const { cudnnDestroyRNNDescriptor(d); }
};
struct RnnDataDescriptorDeleter {
  void operator()(cudnnRNNDataStruct* d) const { cudnnDestroyRNNDataDescriptor(d); }
};
struct TensorDescriptorDeleter {
  void operator()(cudnnTensorStruct* d) const { cudnnDestroyTensorDescriptor(d); }
};
struct DropoutDescriptorDeleter {
  void operator()(cudnnDropoutStruct* d) const { cudnnDestroyDropoutDescriptor(d); }
};
using RnnDescriptor = std::unique_ptr<cudnnRNNStruct, RnnDescriptorDeleter>;
using RnnDataDescriptor = std::unique_ptr<cudnnRNNDataStruct, RnnDataDescriptorDeleter>;
using TensorDescriptor = std::unique_ptr<cudnnTensorStruct, TensorDescriptorDeleter>;
using DropoutDescriptor = std::unique_ptr<cudnnDropoutStruct, DropoutDescriptorDeleter>;

TensorDescriptor new_tensor_descriptor() {
  cudnnTensorDescriptor_t descriptor = nullptr;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&descriptor));
  return TensorDescriptor(descriptor);
}

cudnnRNNMode_t cudnn_mode(RnnCell cell) {
  switch (cell) {
    case RnnCell::lstm: return CUDNN_LSTM;
    case RnnCell::gru: return CUDNN_GRU;
    case RnnCell::rnn_tanh: return CUDNN_RNN_TANH;
  }
  return CUDNN_LSTM;
}

int to_int(std::int64_t value, const char* what) {
  if (value < 1 || value > INT32_MAX)
    throw DeviceError(fmt::format("cuDNN recurrent layer: {} = {} is outside [1, 2^31)", what, value));
  return static_cast<int>(value);
}

// Where one gate's matrix and bias sit in cuDNN's weight space (bytes from its
// start; the gradient space has the same layout).
struct GateSlot {
  std::size_t matrix = 0, bias = 0;
};

// The descriptors of one layer shape and batch of lengths, and the sizes
// cuDNN asks for.
struct Layer {
  RnnCell cell;
  RnnShape shape;
  DropoutDescriptor dropout;
  RnnDescriptor rnn;
  RnnDataDescriptor x, y;
  TensorDescriptor state;  // [1, B, H]: h0, h_n, c0, c_n and their gradients
  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;
};

Layer describe_layer(cudnnHandle_t handle, RnnCell cell, const RnnShape& n,
                     const std::vector<std::int32_t>& lengths, cudnnForwardMode_t mode) {
  Layer layer{cell, n, {}, {}, {}, {}, {}, 0, 0, 0};
  const int T = to_int(n.steps, "steps"), B = to_int(n.batch, "batch");
  const int I = to_int(n.input, "input size"), H = to_int(n.hidden, "hidden size");

  cudnnDropoutDescriptor_t dropout = nullptr;
  CUDNN_CHECK(cudnnCreateDropoutDescriptor(&dropout));
  layer.dropout.reset(dropout);
  // One layer: no dropout between layers, so no random states.
  CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout, handle, 0.0f, nullptr, 0, 0));
  cudnnRNNDescriptor_t rnn = nullptr;
  CUDNN_CHECK(cudnnCreateRNNDescriptor(&rnn));
  layer.rnn.reset(rnn);
  CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
      rnn, CUDNN_RNN_ALGO_STANDARD, cudnn_mode(cell), CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
      CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, I, H, H, 1, dropout,
      CUDNN_RNN_PADDED_IO_ENABLED));

  float padding = 0.0f;
  auto data_descriptor = [&](int width) {
    cudnnRNNDataDescriptor_t descriptor = nullptr;
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&descriptor));
    RnnDataDescriptor owned(descriptor);
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(descriptor, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B, width,
                                          lengths.data(), &padding));
    return owned;
  };
  layer.x = data_descriptor(I);
  layer.y = data_descriptor(H);
  layer.state = new_tensor_descriptor();
  const std::array<int, 3> dims{1, B, H}, strides{B * H, H, 1};
  CUDNN_CHECK(cudnnSetTensorNdDescriptor(layer.state.get(), CUDNN_DATA_FLOAT, 3, dims.data(),
                                         strides.data()));

  CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle, rnn, &layer.weight_bytes));
  CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(handle, rnn, mode, layer.x.get(), &layer.work_bytes,
                                        &layer.reserve_bytes));
  return layer;
}

// Where each gate's matrix and bias sit in the weight space at base (the
// gradient space has the same layout). Linear layer ids 0 .. G-1 are the input
// side's gates in PyTorch's order (LSTM i, f, g, o; GRU r, z, n), G .. 2G-1
// the recurrent side's. Each slot is checked to be inside the space and to be
// a row-major [H, columns] matrix and an [H] bias, the layout seqtrain copies.
std::vector<GateSlot> gate_slots(cudnnHandle_t handle, const Layer& layer, const void* base) {
  const RnnShape& n = layer.shape;
  const int gates = rnn_gate_count(layer.cell);
  TensorDescriptor matrix = new_tensor_descriptor(), bias = new_tensor_descriptor();
  auto dims_of = [](cudnnTensorDescriptor_t descriptor) {
    cudnnDataType_t type;
    int rank = 0;
    std::array<int, 8> dims{}, strides{};
    CUDNN_CHECK(cudnnGetTensorNdDescriptor(descriptor, 8, &type, &rank, dims.data(),
                                           strides.data()));
    std::vector<std::int64_t> result;
    for (int d = 0; d < rank; ++d) result.push_back(dims[static_cast<std::size_t>(d)]);
    for (int d = 0; d < rank; ++d) result.push_back(strides[static_cast<std::size_t>(d)]);
    return result;  // dims then strides
  };
  const auto* start = static_cast<const char*>(base);
  std::vector<GateSlot> slots;
  for (int id = 0; id < 2 * gates; ++id) {
    void* matrix_address = nullptr;
    void* bias_address = nullptr;
    CUDNN_CHECK(cudnnGetRNNWeightParams(handle, layer.rnn.get(), 0, layer.weight_bytes, base, id,
                                        matrix.get(), &matrix_address, bias.get(), &bias_address));
    const std::int64_t columns = id < gates ? n.input : n.hidden;
    const std::vector<std::int64_t> expected_matrix{1, n.hidden, columns, n.hidden * columns,
                                                    columns, 1};
    const std::vector<std::int64_t> matrix_dims = dims_of(matrix.get());
    const std::vector<std::int64_t> bias_dims = dims_of(bias.get());
    const auto* m = static_cast<const char*>(matrix_address);
    const auto* b = static_cast<const char*>(bias_address);
    const auto inside = [&](const char* address, std::int64_t floats) {
      return address != nullptr && address >= start &&
             address + floats * static_cast<std::int64_t>(sizeof(float)) <=
                 start + layer.weight_bytes;
    };
    if (matrix_dims != expected_matrix || bias_dims.size() < 3 || bias_dims[1] != n.hidden ||
        bias_dims[0] * bias_dims[2] != 1 || !inside(m, n.hidden * columns) || !inside(b, n.hidden))
      throw DeviceError(fmt::format(
          "cuDNN recurrent layer: linear layer {} is not a row-major {} x {} matrix and a {}-element "
          "bias inside the weight space (cuDNN reports dims and strides {} and {}): this cuDNN's "
          "weight layout is not the one seqtrain packs; use model.impl: fused",
          id, n.hidden, columns, n.hidden, fmt::join(matrix_dims, ","),
          fmt::join(bias_dims, ",")));
    slots.push_back({static_cast<std::size_t>(m - start), static_cast<std::size_t>(b - start)});
  }
  return slots;
}

// Zeros rows[t, b, :] (width floats each, time-major [T, B, width]) for every
// step t >= lengths[b]: the padded steps.
void zero_padded_steps(void* rows, std::int64_t width, const std::vector<std::int32_t>& lengths,
                       std::int64_t steps, cudaStream_t stream) {
  const auto batch = static_cast<std::int64_t>(lengths.size());
  const std::size_t row_bytes = static_cast<std::size_t>(width) * sizeof(float);
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t length = lengths[static_cast<std::size_t>(b)];
    if (length >= steps) continue;
    char* first = static_cast<char*>(rows) + static_cast<std::size_t>(length * batch + b) * row_bytes;
    CUDA_CHECK(cudaMemset2DAsync(first, static_cast<std::size_t>(batch) * row_bytes, 0, row_bytes,
                                 static_cast<std::size_t>(steps - length), stream));
  }
}



// What one layer's forward leaves for its backward.
// What one layer's training forward leaves for its backward: its descriptors
// and sizes, the packed weights and their slots, cuDNN's reserve space.
struct Saved {
  Layer layer;
  std::shared_ptr<void> weights, reserve;
  std::vector<GateSlot> slots;
};

class CudnnRnnImpl final : public CudnnRnn {
 public:
  CudnnRnnImpl(cudaStream_t stream, std::shared_ptr<cuda::DeviceAllocator> allocator)
      : stream_(stream), allocator_(std::move(allocator)) {
    const cudnnStatus_t status = cudnnCreate(&handle_);
    if (status != CUDNN_STATUS_SUCCESS)
      throw DeviceError(fmt::format(
          "model.impl: cudnn: cuDNN could not start (cudnnCreate: {}); use model.impl: fused",
          cudnnGetErrorString(status)));
    CUDNN_CHECK(cudnnSetStream(handle_, stream_));
  }
  ~CudnnRnnImpl() override { cudnnDestroy(handle_); }
  CudnnRnnImpl(const CudnnRnnImpl&) = delete;
  CudnnRnnImpl& operator=(const CudnnRnnImpl&) = delete;

  void forward(const RnnForwardArgs& a, const std::vector<std::int32_t>& lengths) override {
    expect_forward_direction(a.reverse);
    const cudnnForwardMode_t mode = a.training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
    Saved saved{describe_layer(handle_, a.cell, rnn_shape(a.cell, *a.x, *a.weight_hh), lengths,
                               mode),
                {},
                {},
                {}};
    const Layer& layer = saved.layer;
    const RnnShape& n = layer.shape;
    saved.weights = allocate(layer.weight_bytes);
    saved.reserve = allocate(layer.reserve_bytes);  // 0 bytes (null) in inference mode
    // Bytes of the space that no gate covers are zeros, not recycled memory.
    zero(saved.weights.get(), layer.weight_bytes);
    saved.slots = gate_slots(handle_, layer, saved.weights.get());
    auto* weights = static_cast<char*>(saved.weights.get());
    const int gates = rnn_gate_count(a.cell);
    for (int gate = 0; gate < gates; ++gate) {
      const GateSlot& input = saved.slots[static_cast<std::size_t>(gate)];
      const GateSlot& recurrent = saved.slots[static_cast<std::size_t>(gates + gate)];
      copy(weights + input.matrix, a.weight_ih->data<float>() + gate * n.hidden * n.input,
           n.hidden * n.input);
      copy(weights + input.bias, a.bias_ih->data<float>() + gate * n.hidden, n.hidden);
      copy(weights + recurrent.matrix, a.weight_hh->data<float>() + gate * n.hidden * n.hidden,
           n.hidden * n.hidden);
      copy(weights + recurrent.bias, a.bias_hh->data<float>() + gate * n.hidden, n.hidden);
    }
    const std::shared_ptr<void> work = allocate(layer.work_bytes);
    const bool lstm = a.cell == RnnCell::lstm;
    CUDNN_CHECK(cudnnRNNForward(
        handle_, layer.rnn.get(), mode, a.lengths->data<std::int32_t>(), layer.x.get(), a.x->raw(),
        layer.y.get(), a.y->raw(), layer.state.get(), raw_or_null(a.h0), a.h_n->raw(),
        layer.state.get(), lstm ? raw_or_null(a.c0) : nullptr, lstm ? a.c_n->raw() : nullptr,
        layer.weight_bytes, saved.weights.get(), layer.work_bytes, work.get(),
        layer.reserve_bytes, saved.reserve.get()));
    // Padded steps output zeros (RnnForwardArgs), whatever the padding fill did.
    zero_padded_steps(a.y->raw(), n.hidden, lengths, n.steps, stream_);
    if (!lstm) zero(a.c_n->raw(), a.c_n->bytes());
    if (a.training)
      saved_[a.y->raw()] = std::move(saved);
    else
      saved_.erase(a.y->raw());
  }

  void backward(const RnnBackwardArgs& a, const std::vector<std::int32_t>& lengths) override {
    expect_forward_direction(a.reverse);
    const auto found = saved_.find(a.y->raw());
    SEQTRAIN_CHECK(found != saved_.end(), "cuDNN recurrent backward without its training forward");
    const Saved saved = std::move(found->second);
    saved_.erase(found);
    // The forward's descriptors: same shape and lengths (the graph replays the
    // batch it ran forward on).
    const Layer& layer = saved.layer;
    const RnnShape& n = layer.shape;
    const std::shared_ptr<void> work = allocate(layer.work_bytes);
    const bool lstm = a.cell == RnnCell::lstm;

    // dy is required by cuDNN: zeros when nothing flows into y.
    std::shared_ptr<void> zero_dy;
    const void* dy = raw_or_null(a.dy);
    if (dy == nullptr) {
      zero_dy = allocate(static_cast<std::size_t>(a.y->bytes()));
      zero(zero_dy.get(), a.y->bytes());
      dy = zero_dy.get();
    }
    CUDNN_CHECK(cudnnRNNBackwardData_v8(
        handle_, layer.rnn.get(), a.lengths->data<std::int32_t>(), layer.y.get(), a.y->raw(), dy,
        layer.x.get(), a.dx->raw(), layer.state.get(), raw_or_null(a.h0), raw_or_null(a.dh_n),
        a.dh0->raw(), layer.state.get(), lstm ? raw_or_null(a.c0) : nullptr,
        lstm ? raw_or_null(a.dc_n) : nullptr, lstm ? a.dc0->raw() : nullptr, layer.weight_bytes,
        saved.weights.get(), layer.work_bytes, work.get(), layer.reserve_bytes,
        saved.reserve.get()));
    // Padded steps have zero input gradients, whatever cuDNN wrote there.
    zero_padded_steps(a.dx->raw(), n.input, lengths, n.steps, stream_);
    if (!lstm) zero(a.dc0->raw(), a.dc0->bytes());

    // Weight gradients accumulate (cuDNN 9 supports only CUDNN_WGRAD_MODE_ADD):
    // into a zeroed space, then out to the parameters' gradients.
    const std::shared_ptr<void> gradients = allocate(layer.weight_bytes);
    zero(gradients.get(), layer.weight_bytes);
    CUDNN_CHECK(cudnnRNNBackwardWeights_v8(
        handle_, layer.rnn.get(), CUDNN_WGRAD_MODE_ADD, a.lengths->data<std::int32_t>(),
        layer.x.get(), a.x->raw(), layer.state.get(), raw_or_null(a.h0), layer.y.get(),
        a.y->raw(), layer.weight_bytes, gradients.get(), layer.work_bytes, work.get(),
        layer.reserve_bytes, saved.reserve.get()));
    const auto* grad = static_cast<const char*>(gradients.get());
    const int gates = rnn_gate_count(a.cell);
    for (int gate = 0; gate < gates; ++gate) {
      const GateSlot& input = saved.slots[static_cast<std::size_t>(gate)];
      const GateSlot& recurrent = saved.slots[static_cast<std::size_t>(gates + gate)];
      copy(a.dweight_ih->data<float>() + gate * n.hidden * n.input, grad + input.matrix,
           n.hidden * n.input);
      copy(a.dbias_ih->data<float>() + gate * n.hidden, grad + input.bias, n.hidden);
      copy(a.dweight_hh->data<float>() + gate * n.hidden * n.hidden, grad + recurrent.matrix,
           n.hidden * n.hidden);
      copy(a.dbias_hh->data<float>() + gate * n.hidden, grad + recurrent.bias, n.hidden);
    }
  }

 private:
  static void expect_forward_direction(bool reverse) {
    if (reverse)
      throw DeviceError(
          "model.impl: cudnn runs forward-direction layers only; set model.bidirectional: false "
          "or model.impl: fused");
  }
  static void* raw_or_null(const Tensor* tensor) {
    return tensor != nullptr ? const_cast<void*>(tensor->raw()) : nullptr;
  }
  std::shared_ptr<void> allocate(std::size_t bytes) {
    return allocator_->allocate(bytes, stream_, "cuDNN buffer");
  }
  void copy(void* target, const void* source, std::int64_t floats) {
    CUDA_CHECK(cudaMemcpyAsync(target, source, static_cast<std::size_t>(floats) * sizeof(float),
                               cudaMemcpyDeviceToDevice, stream_));
  }
  void zero(void* target, std::size_t bytes) {
    if (bytes > 0) CUDA_CHECK(cudaMemsetAsync(target, 0, bytes, stream_));
  }

  cudaStream_t stream_;
  std::shared_ptr<cuda::DeviceAllocator> allocator_;
  cudnnHandle_t handle_ = nullptr;
  // A layer's training forward state until its backward, under the layer's y
  // pointer (the graph keeps y alive and distinct in between). Evaluation
  // forwards run in inference mode and keep nothing.
  std::unordered_map<const void*, Saved> saved_;
};

}  // namespace

std::unique_ptr<CudnnRnn> make_cudnn_rnn(cudaStream_t stream,
                                         std::shared_ptr<cuda::DeviceAllocator> allocator) {
  return std::make_unique<CudnnRnnImpl>(stream, std::move(allocator));
}

}  // namespace seqtrain
