// TensorBoard event files, written in the documented format so that
// `tensorboard --logdir runs` shows a run's scalars without any TensorFlow
// code in seqtrain:
//   a file events.out.tfevents.<seconds>.<host>.<pid> of TFRecords, each
//     uint64 length, uint32 masked_crc32c(length bytes), data,
//     uint32 masked_crc32c(data)       (little endian; CRC-32C, Castagnoli)
//   whose data are serialized tensorflow.Event protocol buffers:
//     Event { double wall_time = 1; int64 step = 2; string file_version = 3;
//             Summary summary = 5; SessionLog session_log = 6; }
//     Summary { repeated Value value = 1; }
//     Value { string tag = 1; float simple_value = 2; }
//     SessionLog { SessionStatus status = 1; }   (START = 1)
// The first event carries file_version "brain.Event:2". A resumed run starts
// its new file with a SessionLog START at its step, which tells TensorBoard to
// drop the earlier files' events after that step (the steps it replays).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seqtrain {

// CRC-32C of data, and TFRecord's masked form of it.
std::uint32_t crc32c(std::string_view data);
std::uint32_t masked_crc32c(std::string_view data);

class TensorBoardWriter {
 public:
  // Creates directory and a new event file in it; resumed_at_step: the step a
  // resumed run continues from (a SessionLog START), or -1 for a fresh run.
  // Failures are seqtrain::Error naming the file.
  TensorBoardWriter(const std::filesystem::path& directory, std::int64_t resumed_at_step);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One event with a scalar per (tag, value), flushed.
  void write_scalars(std::int64_t step, const std::vector<std::pair<std::string, double>>& scalars);
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& event);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace seqtrain
