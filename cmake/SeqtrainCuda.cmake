# The CUDA part of the build, chosen by SEQTRAIN_CUDA:
#   AUTO (default)  build it when nvcc and the toolkit are found, say so either way
#   ON              build it or stop with what is missing
#   OFF             the CPU-only build: no CUDA language, no kernels, no emulation
# nvcc is looked for on PATH, through CUDACXX or CMAKE_CUDA_COMPILER, then in
# CUDAToolkit_ROOT, CUDA_PATH and /usr/local/cuda. The GPU code is built for
# CMAKE_CUDA_ARCHITECTURES, by default sm_80 and sm_90 machine code plus
# compute_90 PTX that newer GPUs compile when they load it.
#
# Sets SEQTRAIN_WITH_CUDA (ON/OFF), SEQTRAIN_WITH_CUDNN, SEQTRAIN_WITH_NCCL and
# the imported targets CUDA::* (FindCUDAToolkit), CUDNN::cudnn, NCCL::nccl.
# The kernels are never linked against CUDA::cuda_driver: a binary that needs
# libcuda.so.1 does not start on a machine without a driver, one that links the
# runtime (cudart) does and reports that no device answers.
set(SEQTRAIN_CUDA AUTO CACHE STRING "Build the CUDA kernels: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE SEQTRAIN_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${SEQTRAIN_CUDA}" _seqtrain_cuda_mode)
if(NOT _seqtrain_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "SEQTRAIN_CUDA='${SEQTRAIN_CUDA}': expected AUTO, ON or OFF")
endif()

set(SEQTRAIN_WITH_CUDA OFF)
set(SEQTRAIN_WITH_CUDNN OFF)
set(SEQTRAIN_WITH_NCCL OFF)

macro(_seqtrain_cuda_unavailable reason)
  if(_seqtrain_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "SEQTRAIN_CUDA=ON, but ${reason}. Install the CUDA toolkit, point "
                        "CUDACXX or CUDAToolkit_ROOT at it, or configure with -DSEQTRAIN_CUDA=OFF.")
  endif()
  message(STATUS "CUDA: off (${reason}); building the CPU backends only")
  return()
endmacro()

if(_seqtrain_cuda_mode STREQUAL "OFF")
  message(STATUS "CUDA: off (SEQTRAIN_CUDA=OFF); building the CPU backends only")
  return()
endif()

# ---- the compiler -----------------------------------------------------------
if(NOT CMAKE_CUDA_COMPILER)
  include(CheckLanguage)
  check_language(CUDA)
endif()
if(NOT CMAKE_CUDA_COMPILER)
  foreach(_nvcc "${CUDAToolkit_ROOT}/bin/nvcc" "$ENV{CUDAToolkit_ROOT}/bin/nvcc"
                "$ENV{CUDA_PATH}/bin/nvcc" "/usr/local/cuda/bin/nvcc")
    if(NOT _nvcc MATCHES "^/bin/" AND EXISTS "${_nvcc}")
      set(CMAKE_CUDA_COMPILER "${_nvcc}" CACHE FILEPATH "CUDA compiler" FORCE)
      break()
    endif()
  endforeach()
endif()
if(NOT CMAKE_CUDA_COMPILER)
  _seqtrain_cuda_unavailable("nvcc was not found (PATH, CUDACXX, CUDAToolkit_ROOT, CUDA_PATH, /usr/local/cuda)")
endif()

# Before enable_language: CMake would otherwise pick nvcc's default architecture.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual" CACHE STRING
      "GPU architectures: sm_80 and sm_90 machine code plus compute_90 PTX for newer GPUs")
endif()
# nvcc compiles the host half of .cu files with the same compiler as the rest.
if(NOT DEFINED CMAKE_CUDA_HOST_COMPILER)
  set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}" CACHE FILEPATH "Host compiler for nvcc")
endif()
enable_language(CUDA)
# The shared runtime: it loads the driver when first called, so a binary built
# here starts on machines without one (and says no device answers).
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
# C++20 like the rest of the code. CMake 3.25 knows nvcc's standard flags only up
# to C++17 (and applies CXX_STANDARD 20 to CUDA sources): teach it nvcc 12's.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
# Kernels: warnings as errors, from nvcc's front end, ptxas and the host compiler.
set(SEQTRAIN_CUDA_FLAGS --Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror)

# ---- the libraries ----------------------------------------------------------
find_package(CUDAToolkit 12.0)
if(NOT CUDAToolkit_FOUND)
  _seqtrain_cuda_unavailable("nvcc ${CMAKE_CUDA_COMPILER} works but the CUDA toolkit (12.0 or newer) was not found")
endif()
if(NOT TARGET CUDA::cudart OR NOT TARGET CUDA::cublas)
  _seqtrain_cuda_unavailable("the CUDA toolkit ${CUDAToolkit_VERSION} has no cudart or cuBLAS")
endif()

set(SEQTRAIN_CUBLAS_VERSION "not found")
find_file(_seqtrain_cublas_api_h cublas_api.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
if(_seqtrain_cublas_api_h)
  file(STRINGS "${_seqtrain_cublas_api_h}" _cublas_version_lines
       REGEX "^#define CUBLAS_VER_(MAJOR|MINOR|PATCH) [0-9]+")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define CUBLAS_VER_${_part} ([0-9]+).*" "\\1" _cublas_${_part}
           "${_cublas_version_lines}")
  endforeach()
  set(SEQTRAIN_CUBLAS_VERSION "${_cublas_MAJOR}.${_cublas_MINOR}.${_cublas_PATCH}")
endif()

find_package(CUDNN QUIET)
find_package(NCCL QUIET)
set(SEQTRAIN_WITH_CUDNN ${CUDNN_FOUND})
set(SEQTRAIN_WITH_NCCL ${NCCL_FOUND})
set(SEQTRAIN_WITH_CUDA ON)

# A compile definition cannot hold ';'.
string(REPLACE ";" " " SEQTRAIN_CUDA_ARCHITECTURES_TEXT "${CMAKE_CUDA_ARCHITECTURES}")
message(STATUS "CUDA: on: nvcc ${CMAKE_CUDA_COMPILER_VERSION} (${CMAKE_CUDA_COMPILER}), "
               "architectures ${SEQTRAIN_CUDA_ARCHITECTURES_TEXT}")
if(CUDNN_FOUND)
  set(_cudnn_text "cuDNN ${CUDNN_VERSION} (${CUDNN_LIBRARY})")
else()
  set(_cudnn_text "cuDNN not found (set CUDNN_ROOT)")
endif()
if(NCCL_FOUND)
  set(_nccl_text "NCCL ${NCCL_VERSION} (${NCCL_LIBRARY})")
else()
  set(_nccl_text "NCCL not found (set NCCL_ROOT)")
endif()
message(STATUS "CUDA: toolkit ${CUDAToolkit_VERSION} (${CUDAToolkit_LIBRARY_DIR}), "
               "cuBLAS ${SEQTRAIN_CUBLAS_VERSION}, ${_cudnn_text}, ${_nccl_text}")
