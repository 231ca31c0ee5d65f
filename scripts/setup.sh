#!/usr/bin/env bash
# Installs every Debian package seqtrain builds, tests and trains with, and the
# default corpus. Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  libdnnl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev libopenmpi-dev openmpi-bin
  fortunes fortunes-min
  # The libFuzzer harnesses (scripts/fuzz.sh): clang 19, its libFuzzer and
  # sanitizer runtimes, and its OpenMP (clang 14, Debian's default, lacks the
  # std::source_location that libstdc++ 12 needs).
  clang-19 libclang-rt-19-dev libomp-19-dev
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

# Python packages for the python3 on PATH: matplotlib draws `seqtrain plot`'s
# curves; the tests read TensorBoard event files back with tensorboard and
# check tokenizer.json with transformers' AutoTokenizer (no torch).
if ! python3 -c "import matplotlib, tensorboard, tokenizers, transformers" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check matplotlib tensorboard tokenizers \
    transformers
fi

# cuobjdump and nvdisasm for the SASS check (scripts/sass_check.sh, ctest
# kernels.sass_tensor_cores) where a CUDA toolkit is installed: ours ships
# without them, PyPI's nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm carry
# both (into the site-packages of the python3 on PATH), matched to nvcc's
# major version.
nvcc="$(command -v nvcc || true)"
if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [ -n "$nvcc" ] && command -v python3 > /dev/null; then
  cuda_major="$("$nvcc" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')"
  for package in nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm; do
    python3 -m pip show "$package" > /dev/null 2>&1 ||
      python3 -m pip install -q --disable-pip-version-check "$package==${cuda_major}.*"
  done
fi

# The default char-LM corpus: the English fortune databases as one UTF-8 text
# file, fortunes separated by blank lines instead of '%' lines.
scripts/make_corpus.sh data/fortunes.txt
# The default sequence-classification data: the topic of a fortune.
scripts/make_classification_data.sh data/fortune_topics.tsv
