// libseqtrain_cuda.so is the whole of seqtrain_cuda_backend (linked as a
// whole archive, so its entry point seqtrain_cuda_plugin_api in
// cuda_entry.cc is in); this file only gives the module a source of its own.
