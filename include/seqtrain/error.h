// Error types. Errors caused by users (configs, data, files, flags) are
// exceptions deriving from seqtrain::Error; the CLI turns them into one line and
// exit code 2. Broken internal invariants are bugs: SEQTRAIN_CHECK aborts the
// operation with an InternalError that says where.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace seqtrain {

// Something the user can fix: the message names the bad thing and the fix.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConfigError : public Error {
 public:
  using Error::Error;
};

// Error is a virtual base of DataError and CheckpointError because one error is
// both: a file that cannot be read or written (IoError, src/io/io_error.h) is
// the user's data or a checkpoint depending on the file, and a single Error
// subobject keeps it catchable as Error.
class DataError : public virtual Error {
 public:
  using Error::Error;
};

class CheckpointError : public virtual Error {
 public:
  using Error::Error;
};

class DeviceError : public Error {
 public:
  using Error::Error;
};

// A bug in seqtrain: an invariant that our own code should have kept.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void throw_internal_error(const char* file, int line, const char* condition,
                                       const std::string& message);

}  // namespace seqtrain

#define SEQTRAIN_CHECK(condition, ...)                                                     \
  do {                                                                                     \
    if (!(condition)) [[unlikely]]                                                         \
      ::seqtrain::throw_internal_error(__FILE__, __LINE__, #condition,                     \
                                       ::fmt::format(__VA_ARGS__));                        \
  } while (0)
