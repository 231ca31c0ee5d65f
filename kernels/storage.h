// Activations are stored as float or __nv_bfloat16 and computed on in fp32:
// load_float and store_float convert at the memory boundary (bf16 rounds to
// nearest even). Device code; usable in the emulation too.
#pragma once

#include "kernels/device_api.h"

namespace seqtrain::kernels {

__device__ __forceinline__ float load_float(const float* source) {
  return *source;
}
__device__ __forceinline__ float load_float(const __nv_bfloat16* source) {
  return __bfloat162float(*source);
}

__device__ __forceinline__ void store_float(float* target, float value) {
  *target = value;
}
__device__ __forceinline__ void store_float(__nv_bfloat16* target, float value) {
  *target = __float2bfloat16(value);
}

}  // namespace seqtrain::kernels
