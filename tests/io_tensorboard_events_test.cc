// TensorBoard event files' checksums against published CRC-32C check values
// (the catalogue's "123456789" and RFC 3720's iSCSI vectors). That the files
// load in TensorBoard is tests/plot_tensorboard_test.sh's part.

#include <string>

#include <gtest/gtest.h>

#include "io/tensorboard_events.h"

namespace seqtrain {
namespace {

TEST(TensorBoardEvents, Crc32cMatchesPublishedCheckValues) {
  EXPECT_EQ(crc32c(""), 0x00000000u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
}

TEST(TensorBoardEvents, MaskRotatesAndOffsetsTheCrc) {
  const std::uint32_t crc = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
}

}  // namespace
}  // namespace seqtrain
