#include "io/tensorboard_events.h"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "seqtrain/error.h"

namespace seqtrain {
namespace {

// The reflected CRC-32C table (polynomial 0x82F63B78).
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}
constexpr auto kCrc32cTable = make_crc32c_table();

// Protocol buffer encoding, only what Event needs.
void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}
void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}
template <class T>
void put_fixed(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little endian on x86-64
  out.append(bytes, sizeof(T));
}
void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_header(double wall_time, std::int64_t step) {
  std::string event;
  put_tag(event, 1, 1);  // wall_time, fixed64
  put_fixed(event, wall_time);
  put_tag(event, 2, 0);  // step, varint
  put_varint(event, static_cast<std::uint64_t>(step));
  return event;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) crc = kCrc32cTable[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc32c(std::string_view data) {
  const std::uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& directory,
                                     std::int64_t resumed_at_step) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  const double started = now_seconds();
  path_ = directory / fmt::format("events.out.tfevents.{}.{}.{}",
                                  static_cast<std::int64_t>(started), host, ::getpid());
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr)
    throw Error(fmt::format("cannot create TensorBoard event file '{}': {}", path_.string(),
                            std::strerror(errno)));
  std::string version = event_header(started, 0);
  put_bytes(version, 3, "brain.Event:2");
  write_record(version);
  if (resumed_at_step >= 0) {
    std::string session_log;
    put_tag(session_log, 1, 0);  // status START
    put_varint(session_log, 1);
    std::string event = event_header(started, resumed_at_step);
    put_bytes(event, 6, session_log);
    write_record(event);
  }
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::write_scalars(std::int64_t step,
                                      const std::vector<std::pair<std::string, double>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string entry;
    put_bytes(entry, 1, tag);
    put_tag(entry, 2, 5);  // simple_value, fixed32
    put_fixed(entry, static_cast<float>(value));
    put_bytes(summary, 1, entry);
  }
  std::string event = event_header(now_seconds(), step);
  put_bytes(event, 5, summary);
  write_record(event);
}

void TensorBoardWriter::write_record(const std::string& event) {
  std::string record;
  const auto length = static_cast<std::uint64_t>(event.size());
  std::string length_bytes;
  put_fixed(length_bytes, length);
  record += length_bytes;
  put_fixed(record, masked_crc32c(length_bytes));
  record += event;
  put_fixed(record, masked_crc32c(event));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0)
    throw Error(fmt::format("cannot write TensorBoard event file '{}': {}", path_.string(),
                            std::strerror(errno)));
}

}  // namespace seqtrain
