// Helpers of the CUDA backend tests (kernels_cuda_backend_test.cc, the
// emulated-device and GPU-only tests): host <-> device copies, bf16 inputs,
// and one recurrent layer's tensors driven through Backend::rnn_forward and
// rnn_backward.
#pragma once

#include <cuda_bf16.h>
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "seqtrain/backend.h"
#include "test_support.h"

namespace seqtrain::testing {

inline Tensor to_device(Backend& backend, const Tensor& host) {
  Tensor device = backend.allocate(host.shape(), host.dtype());
  backend.copy_from_host(host, device);
  return device;
}

inline Tensor to_host(Backend& backend, const Tensor& device) {
  Tensor host = Tensor::empty(device.shape(), device.dtype());
  backend.copy_to_host(device, host);
  return host;
}

// f32 values rounded to bf16, as a bf16 tensor and as the f32 tensor it equals.
inline std::pair<Tensor, Tensor> bf16_and_exact_f32(const Tensor& values) {
  Tensor bf16 = Tensor::empty(values.shape(), DType::bf16);
  Tensor exact = Tensor::empty(values.shape(), DType::f32);
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    const __nv_bfloat16 rounded = __float2bfloat16(values.data<float>()[i]);
    std::memcpy(static_cast<char*>(bf16.raw()) + 2 * i, &rounded, 2);
    exact.data<float>()[i] = __bfloat162float(rounded);
  }
  return {bf16, exact};
}

struct RnnCase {
  RnnCell cell = RnnCell::lstm;
  bool reverse = false;
  std::int64_t steps = 6, batch = 5, input = 7, hidden = 9;
  std::vector<std::int32_t> lengths = {6, 2, 5, 1, 4};
  bool initial_state = true;  // h0 and c0 given (else null: zeros)
  bool output_grad = true;    // dy given
  bool state_grad = true;     // dh_n and dc_n given
};

inline std::string describe(const RnnCase& c) {
  return fmt::format("{} {} T {} B {} I {} H {} initial state {} dy {} dh_n {}",
                     rnn_cell_name(c.cell), c.reverse ? "reverse" : "forward", c.steps, c.batch,
                     c.input, c.hidden, c.initial_state, c.output_grad, c.state_grad);
}

// Host tensors of one layer: inputs, and outputs/gradients to be written.
struct RnnTensors {
  std::map<std::string, Tensor> t;
  Tensor* get(const std::string& name) { return t.contains(name) ? &t.at(name) : nullptr; }
};

inline RnnTensors make_rnn_inputs(const RnnCase& c) {
  const std::int64_t G = rnn_gate_count(c.cell) * c.hidden, T = c.steps, B = c.batch;
  const std::int64_t W = rnn_workspace_width(c.cell) * c.hidden;
  RnnTensors r;
  r.t["x"] = random_tensor({T, B, c.input}, 71);
  r.t["weight_ih"] = random_tensor({G, c.input}, 72, 0.5f);
  r.t["weight_hh"] = random_tensor({G, c.hidden}, 73, 0.5f);
  r.t["bias_ih"] = random_tensor({G}, 74, 0.5f);
  r.t["bias_hh"] = random_tensor({G}, 75, 0.5f);
  const bool lstm = c.cell == RnnCell::lstm;
  if (c.initial_state) {
    r.t["h0"] = random_tensor({B, c.hidden}, 76);
    if (lstm) r.t["c0"] = random_tensor({B, c.hidden}, 77);
  }
  r.t["lengths"] = Tensor::from_vector(c.lengths, {B});
  if (c.output_grad) r.t["dy"] = random_tensor({T, B, c.hidden}, 78);
  if (c.state_grad) {
    r.t["dh_n"] = random_tensor({B, c.hidden}, 79);
    if (lstm) r.t["dc_n"] = random_tensor({B, c.hidden}, 80);
  }
  for (const char* name : {"y"}) r.t[name] = Tensor::zeros({T, B, c.hidden});
  for (const char* name : {"h_n", "c_n", "dh0", "dc0"}) r.t[name] = Tensor::zeros({B, c.hidden});
  r.t["workspace"] = Tensor::zeros({T, B, W});
  r.t["input_projection"] = Tensor::zeros({T, B, G});
  r.t["gate_grads"] = Tensor::zeros({T, B, G});
  r.t["dx"] = Tensor::zeros({T, B, c.input});
  r.t["dweight_ih"] = Tensor::zeros({G, c.input});
  r.t["dweight_hh"] = Tensor::zeros({G, c.hidden});
  r.t["dbias_ih"] = Tensor::zeros({G});
  r.t["dbias_hh"] = Tensor::zeros({G});
  return r;
}

inline void run_rnn(Backend& backend, const RnnCase& c, RnnTensors& r) {
  RnnForwardArgs forward{c.cell,
                         c.reverse,
                         r.get("x"),
                         r.get("weight_ih"),
                         r.get("weight_hh"),
                         r.get("bias_ih"),
                         r.get("bias_hh"),
                         r.get("h0"),
                         r.get("c0"),
                         r.get("lengths"),
                         r.get("y"),
                         r.get("h_n"),
                         r.get("c_n"),
                         r.get("workspace"),
                         r.get("input_projection")};
  backend.rnn_forward(forward);
  RnnBackwardArgs backward{c.cell,
                           c.reverse,
                           r.get("x"),
                           r.get("weight_ih"),
                           r.get("weight_hh"),
                           r.get("h0"),
                           r.get("c0"),
                           r.get("lengths"),
                           r.get("y"),
                           r.get("workspace"),
                           r.get("dy"),
                           r.get("dh_n"),
                           r.get("dc_n"),
                           r.get("dx"),
                           r.get("dweight_ih"),
                           r.get("dweight_hh"),
                           r.get("dbias_ih"),
                           r.get("dbias_hh"),
                           r.get("dh0"),
                           r.get("dc0"),
                           r.get("gate_grads")};
  backend.rnn_backward(backward);
}

}  // namespace seqtrain::testing
