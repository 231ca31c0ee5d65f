# The release package: `cmake --build BUILD --target package` writes
# seqtrain-VERSION-linux-x86_64.tar.gz, which runs wherever it is unpacked:
#   bin/    seqtrain, the benchmark binaries and seqtrain_gpu_tests (RPATH
#           $ORIGIN/../lib)
#   lib/    libseqtrain.so, the CUDA plug-in libseqtrain_cuda.so, the MPI
#           plug-in libseqtrain_mpi.so (its Open MPI is the machine's) and every
#           non-system library they link (oneDNN, yaml-cpp, spdlog, fmt,
#           SentencePiece, the OpenMP runtime, Google Benchmark, ...)
#   share/seqtrain/  configs, docs, the GPU check script
# Not bundled: the base system (glibc, libstdc++, libgcc_s) and the CUDA
# libraries, which the plug-in finds on the machine (src/backends/cuda_plugin.h).
# The executables and libseqtrain carry DT_RPATH (not RUNPATH), which the
# loader also uses for the dependencies of the bundled libraries; the plug-in
# keeps RUNPATH, so LD_LIBRARY_PATH still chooses among CUDA installations.
# tests/package_test.sh builds, unpacks and checks it (ctest: package.relocatable).

set(seqtrain_base_system_libraries
  "^ld-linux" "^linux-vdso" "^libc\\.so" "^libm\\.so" "^libdl\\.so" "^libpthread\\.so"
  "^librt\\.so" "^libresolv\\.so" "^libstdc\\+\\+\\.so" "^libgcc_s\\.so")
set(seqtrain_machine_cuda_libraries
  "^libcuda\\.so" "^libcudart\\.so" "^libcublas" "^libcudnn" "^libnccl" "^libnvidia")

function(seqtrain_packaged_rpath target origin_path)
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${origin_path}")
  target_link_options(${target} PRIVATE -Wl,--disable-new-dtags)
endfunction()

seqtrain_packaged_rpath(seqtrain_cli "$ORIGIN/../lib")
seqtrain_packaged_rpath(seqtrain "$ORIGIN")
install(TARGETS seqtrain_cli RUNTIME_DEPENDENCY_SET seqtrain_dependencies RUNTIME DESTINATION bin)
install(TARGETS seqtrain RUNTIME_DEPENDENCY_SET seqtrain_dependencies LIBRARY DESTINATION lib)
if(TARGET seqtrain_mpi)  # its libmpi is the machine's Open MPI, never bundled
  install(TARGETS seqtrain_mpi LIBRARY DESTINATION lib)
endif()
if(SEQTRAIN_WITH_CUDA)
  install(TARGETS seqtrain_cuda LIBRARY DESTINATION lib)
  if(SEQTRAIN_BUILD_TESTS)  # the GPU tests, for scripts/gpu_check.sh on a GPU machine
    seqtrain_packaged_rpath(seqtrain_gpu_tests "$ORIGIN/../lib")
    install(TARGETS seqtrain_gpu_tests RUNTIME_DEPENDENCY_SET seqtrain_dependencies
            RUNTIME DESTINATION bin)
  endif()
endif()
if(SEQTRAIN_BUILD_BENCH)
  foreach(benchmark ${seqtrain_benchmark_targets})
    seqtrain_packaged_rpath(${benchmark} "$ORIGIN/../lib")
    install(TARGETS ${benchmark} RUNTIME_DEPENDENCY_SET seqtrain_dependencies
            RUNTIME DESTINATION bin)
  endforeach()
endif()
install(RUNTIME_DEPENDENCY_SET seqtrain_dependencies
  PRE_EXCLUDE_REGEXES ${seqtrain_base_system_libraries} ${seqtrain_machine_cuda_libraries}
  LIBRARY DESTINATION lib)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION share/seqtrain/configs)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/seqtrain/docs)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/seqtrain)
# The GPU check and the PyTorch peers it times against.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/gpu_check.sh ${PROJECT_SOURCE_DIR}/scripts/bench_pytorch.py
        ${PROJECT_SOURCE_DIR}/scripts/bench_pytorch_attention.py
        ${PROJECT_SOURCE_DIR}/scripts/bench_pytorch_bert.py
        ${PROJECT_SOURCE_DIR}/scripts/plot_runs.py ${PROJECT_SOURCE_DIR}/scripts/plot_affinity.py
        DESTINATION share/seqtrain/scripts)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/bench_timing.py DESTINATION share/seqtrain/scripts)
# The fortune corpus (made by scripts/setup.sh) for the check's BERT runs, when
# this machine has it; the check makes a synthetic one otherwise.
install(FILES ${PROJECT_SOURCE_DIR}/data/fortunes.txt DESTINATION share/seqtrain/data OPTIONAL)

set(CPACK_GENERATOR TGZ)
set(CPACK_PACKAGE_NAME seqtrain)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_FILE_NAME "seqtrain-${PROJECT_VERSION}-linux-x86_64")
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
