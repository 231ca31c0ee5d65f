// Dropout forward, fp32 math on float or bf16 storage (s bytes per element):
//
//   u_i    = philox_uniform(seed, rng_stream, step, first_index + i)  (seqtrain/philox.h)
//   mask_i = u_i >= p ? 1 / (1 - p) : 0,    y_i = x_i mask_i
//
// philox_uniform(.., g) is word g mod 4 of the Philox4x32-10 block at counter
// (rng_stream, (step << 40) | (g >> 2)) for the global element g = first_index
// + i: one block of 10 rounds gives the uniforms of 4 consecutive elements. So
// each thread takes the elements of one Philox block (the first and last
// blocks are partial when first_index or the end is not a multiple of 4),
// computes it once and uses its words; the draws are exactly the CPU
// backends' (same function, same counters, same top-24-bit conversion), so
// the kept/dropped pattern is identical.
//
// Cost: 3 n s bytes (x in; y and mask out); per group of 4, one Philox block
// (10 rounds of 2 32x32->64 multiplies and a few xors/adds, ~100 integer
// instructions, ~25 per element) plus a compare and a multiply per element.
// At 12 bytes per fp32 element that is ~2 instructions per byte: still memory
// bound on an A100 (~1.5 TB/s vs ~19.5 T int32 ops/s) and an H100 (~3.35 TB/s
// vs ~33 T), though closer to the balance than a plain copy.
//
// Launch geometry: a 1-D grid-stride loop over the groups (ceil(n / 4), one
// more when first_index is not a multiple of 4), 256 threads per block,
// min(ceil(groups / 256), 1024) blocks. A warp's accesses cover 128 consecutive elements, each thread 4
// adjacent ones (4 loads of one element, merged in L1). p = 0 skips Philox and
// writes mask 1, y = x. No shared memory, no barriers.
#include <algorithm>

#include "kernels/device_api.h"
#include "kernels/dropout.h"
#include "kernels/launch.h"
#include "kernels/storage.h"
#include "seqtrain/philox.h"

namespace seqtrain::kernels {

constexpr int kDropoutThreads = 256;
constexpr std::int64_t kDropoutMaxBlocks = 1024;
constexpr int kPhiloxWords = 4;  // uniforms per Philox block

// The Philox blocks that global elements [first_index, first_index + count) touch.
SEQTRAIN_HOST_DEVICE inline std::int64_t dropout_groups(std::uint64_t first_index,
                                                        std::int64_t count) {
  return static_cast<std::int64_t>((first_index + static_cast<std::uint64_t>(count) - 1) /
                                       kPhiloxWords -
                                   first_index / kPhiloxWords) +
         1;
}

template <class Storage>
__global__ void __launch_bounds__(kDropoutThreads)
    dropout_forward_kernel(const DropoutForwardArgs<Storage> args) {
  const float probability = args.probability;
  const float keep_scale = 1.0f / (1.0f - probability);
  const std::uint64_t first_block = args.first_index / kPhiloxWords;
  const std::int64_t groups = dropout_groups(args.first_index, args.count);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t group = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       group < groups; group += stride) {
    const std::uint64_t block = first_block + static_cast<std::uint64_t>(group);
    PhiloxWords words{{0u, 0u, 0u, 0u}};
    if (probability != 0.0f)
      words = philox4x32_words(args.seed, args.rng_stream, (args.step << 40) | block);
    SEQTRAIN_UNROLL
    for (int k = 0; k < kPhiloxWords; ++k) {
      const std::int64_t i =
          static_cast<std::int64_t>(block * kPhiloxWords + k - args.first_index);
      if (i < 0) continue;
      if (i >= args.count) break;
      const bool keep = probability == 0.0f || bits_to_uniform(words.word[k]) >= probability;
      const float factor = keep ? keep_scale : 0.0f;
      store_float(args.mask + i, factor);
      store_float(args.y + i, load_float(args.x + i) * factor);
    }
  }
}

namespace {

template <class Storage>
void launch_dropout_forward(const DropoutForwardArgs<Storage>& args, cudaStream_t stream) {
  if (args.count <= 0) return;
  const std::int64_t groups = dropout_groups(args.first_index, args.count);
  const std::int64_t blocks =
      std::min((groups + kDropoutThreads - 1) / kDropoutThreads, kDropoutMaxBlocks);
  const LaunchConfig config{dim3(static_cast<unsigned>(blocks)), dim3(kDropoutThreads), 0, stream};
  SEQTRAIN_LAUNCH(config, dropout_forward_kernel<Storage>, args);
}

}  // namespace

void dropout_forward(const DropoutForwardArgs<float>& args, cudaStream_t stream) {
  launch_dropout_forward(args, stream);
}
void dropout_forward(const DropoutForwardArgs<__nv_bfloat16>& args, cudaStream_t stream) {
  launch_dropout_forward(args, stream);
}

}  // namespace seqtrain::kernels
