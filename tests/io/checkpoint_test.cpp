// The checkpoint format: a round trip keeps every snapshot bit for bit, every truncation and
// every flipped byte is a CheckpointError (never a crash), and atomic writes leave the old file
// whole when the new one cannot be written.

#include "layerwatch/io/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace layerwatch {
namespace {

namespace fs = std::filesystem;

CheckpointContents sample_contents() {
  CheckpointContents c;
  c.state = {{"steps", 42}, {"name", "toy"}, {"nested", {{"a", 1.5}}}};
  Snapshot a;
  a.layer = "features.0";
  a.step = 10;
  a.epoch = 1;
  a.probe_index = 3;
  a.rows_per_example = 4;
  a.values = Eigen::MatrixXf::Random(6, 3);
  Snapshot b = a;
  b.layer = "features.1";
  b.convert_to_half();
  Snapshot empty;
  empty.layer = "empty";
  c.snapshots.push_back({std::make_shared<const Snapshot>(a), true});
  c.snapshots.push_back({std::make_shared<const Snapshot>(b), false});
  c.snapshots.push_back({std::make_shared<const Snapshot>(empty), false});
  return c;
}

TEST(Checkpoint, RoundTripKeepsTheStateAndEverySnapshotBitForBit) {
  const auto original = sample_contents();
  const auto decoded = decode_checkpoint(encode_checkpoint(original), "test");
  EXPECT_EQ(decoded.state, original.state);
  ASSERT_EQ(decoded.snapshots.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& want = *original.snapshots[i].snapshot;
    const auto& got = *decoded.snapshots[i].snapshot;
    EXPECT_EQ(decoded.snapshots[i].pinned, original.snapshots[i].pinned);
    EXPECT_EQ(got.layer, want.layer);
    EXPECT_EQ(got.step, want.step);
    EXPECT_EQ(got.epoch, want.epoch);
    EXPECT_EQ(got.probe_index, want.probe_index);
    EXPECT_EQ(got.rows_per_example, want.rows_per_example);
    EXPECT_EQ(got.is_half(), want.is_half());
    EXPECT_EQ(got.samples(), want.samples());
    EXPECT_EQ(got.features(), want.features());
    EXPECT_TRUE(got.to_float() == want.to_float()) << want.layer;
  }
}

TEST(Checkpoint, EveryTruncationIsRefusedAsTruncatedOrNotACheckpoint) {
  const auto bytes = encode_checkpoint(sample_contents());
  for (size_t size = 0; size < bytes.size(); ++size) {
    try {
      decode_checkpoint(std::string_view(bytes).substr(0, size), "cut.ckpt");
      FAIL() << "a checkpoint cut to " << size << " of " << bytes.size() << " bytes was accepted";
    } catch (const CheckpointError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("cut.ckpt"), std::string::npos) << message;
      EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                  message.find("not a layerwatch") != std::string::npos)
          << size << ": " << message;
    }
  }
}

TEST(Checkpoint, EveryFlippedByteIsRefused) {
  const auto bytes = encode_checkpoint(sample_contents());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x01);
    EXPECT_THROW(decode_checkpoint(corrupt, "flipped"), CheckpointError) << "byte " << i;
  }
}

TEST(Checkpoint, AtomicWriteReplacesTheFileOnlyWhenTheNewOneIsComplete) {
  const auto dir = fs::path(::testing::TempDir()) / "checkpoint_atomic";
  fs::remove_all(dir);
  const auto path = (dir / "state.ckpt").string();
  write_file_atomically(path, std::string_view("first"));
  // A writer that fails half way (as on a full disk): the old file stays, no temporary is left.
  try {
    write_file_atomically(path, [](const std::string& temporary) {
      std::ofstream(temporary) << "half of the sec";
      throw std::runtime_error("No space left on device (test)");
    });
    FAIL() << "the failure was swallowed";
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("No space left"), std::string::npos) << message;
  }
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "first");
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
  write_file_atomically(path, std::string_view("second"));
  std::ifstream again(path);
  std::getline(again, content);
  EXPECT_EQ(content, "second");
}

TEST(Checkpoint, AnUnwritableDirectoryIsACheckpointErrorNamingThePath) {
  EXPECT_THROW(write_file_atomically("/proc/layerwatch/state.ckpt", std::string_view("x")),
               CheckpointError);
}

}  // namespace
}  // namespace layerwatch
