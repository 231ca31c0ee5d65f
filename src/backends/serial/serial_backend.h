// The serial backend: every op as plain loops on one thread, written to be
// obviously right. It is the oracle the cpu and cuda backends are tested
// against, and the "serial" column of the hardware-affinity comparison.
#pragma once

#include "seqtrain/backend.h"

namespace seqtrain {

class SerialBackend final : public Backend {
 public:
  std::string name() const override { return "serial"; }
  Device device() const override { return Device::cpu; }
  Tensor allocate(const Shape& shape, DType dtype) override;
  void copy_from_host(const Tensor& host, Tensor& target) override;
  void copy_to_host(const Tensor& source, Tensor& host) override;
  void fill_zero(Tensor& x) override;
  // Both precisions: bf16 rounds matmul's operands (the oracle of the others).
  void set_gemm_precision(Precision precision) override;

  // The op methods (seqtrain/backend_op_methods.inc), defined in serial_backend.cc
  // but for rnn_* (rnn.cc) and attention_* (attention.cc).
#define SEQTRAIN_BACKEND_OP(result, name, parameters) result name parameters override;
#include "seqtrain/backend_op_methods.inc"
};

}  // namespace seqtrain
