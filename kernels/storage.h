// Activations are stored as float or __nv_bfloat16 (and __half, for kernels
// that take fp16) and computed on in fp32: load_float and store_float convert
// at the memory boundary (bf16 and fp16 round to nearest even). Device code;
// usable in the emulation too.
#pragma once

#include "kernels/device_api.h"

namespace seqtrain::kernels {

__device__ __forceinline__ float load_float(const float* source) {
  return *source;
}
__device__ __forceinline__ float load_float(const __nv_bfloat16* source) {
  return __bfloat162float(*source);
}

__device__ __forceinline__ float load_float(const __half* source) {
  return __half2float(*source);
}

__device__ __forceinline__ void store_float(float* target, float value) {
  *target = value;
}
__device__ __forceinline__ void store_float(__nv_bfloat16* target, float value) {
  *target = __float2bfloat16(value);
}
__device__ __forceinline__ void store_float(__half* target, float value) {
  *target = __float2half(value);
}

}  // namespace seqtrain::kernels
