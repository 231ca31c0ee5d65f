// What a kernel file includes to use tensor cores through CUDA's warp matrix
// API (nvcuda::wmma): <mma.h> under nvcc, its host emulation otherwise
// (kernels/emu/wmma_emulation.h, which also says what the emulation covers).
// Kernel code uses only what both provide: m16n16k16 fragments with bf16 or
// fp16 inputs and float accumulators, fill_fragment, load_matrix_sync,
// store_matrix_sync and mma_sync, and no assumption about which lane holds
// which element.
#pragma once

#include "kernels/device_api.h"

#if defined(__CUDACC__)
#include <mma.h>
#else
#include "kernels/emu/wmma_emulation.h"
#endif
