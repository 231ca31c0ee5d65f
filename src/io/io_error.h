// IoError: a file could not be opened, read, mapped or written, or its bytes are
// not what its format says. The message names the file and the system's reason
// or the damage; path() gives the file to callers that want it.
//
// The io layer does not know whether a file is the user's data (a corpus, a
// vocabulary, token shards) or a checkpoint (weights, trainer state, the run's
// records). An IoError is therefore both a DataError and a CheckpointError:
// whoever handles either kind of failure handles it too, and the CLI reports it
// like any other Error (one line, exit code 2).
#pragma once

#include <filesystem>
#include <string>
#include <utility>

#include "seqtrain/error.h"

namespace seqtrain {

class IoError final : public DataError, public CheckpointError {
 public:
  // `message` is the whole line the user sees and names `path`.
  IoError(std::filesystem::path path, const std::string& message)
      // Error is a virtual base: this class initialises it, and the message
      // DataError and CheckpointError pass on is not used.
      : Error(message), DataError(message), CheckpointError(message), path_(std::move(path)) {}

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace seqtrain
