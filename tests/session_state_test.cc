// Saved session states that must be refused (label `model`, llama and qwen2
// fixtures): every error names the file and what is wrong, never a crash,
// and a failed save leaves neither a partial file nor a damaged old one.
// The round trip of every compression method is in compression_contract_test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "runtime/session.h"
#include "runtime/session_state.h"

namespace skv {
namespace {

std::vector<char> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteAll(const std::string& path, const std::vector<char>& data) {
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

class SessionState : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("SKV_FIXTURE_DIR");
    if (dir == nullptr) GTEST_SKIP() << "SKV_FIXTURE_DIR not set";
    dir_ = dir;
    auto m = Model::Load(dir_ + "/llama-fixture.gguf");
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = std::move(m).value();
    SessionOptions o;
    o.n_ctx = 64;
    auto s = Session::Create(*model_, o);
    ASSERT_TRUE(s.ok());
    std::vector<int32_t> tokens;
    for (int i = 0; i < 40; ++i) tokens.push_back(5 + 37 * i % 3000);
    ASSERT_TRUE(s->Evaluate(tokens, false, nullptr).ok());
    path_ = ::testing::TempDir() + "/session_state_test.skv";
    ASSERT_TRUE(SaveSessionState(*s, path_, {{"document", "doc.txt"}}).ok());
    good_ = ReadAll(path_);
    ASSERT_GT(good_.size(), 100u);
  }

  // Loads `data` written to a scratch file; returns the error message.
  std::string LoadError(const std::vector<char>& data, const Model& model) {
    const std::string bad = ::testing::TempDir() + "/session_state_bad.skv";
    WriteAll(bad, data);
    auto r = LoadSessionState(model, SessionOptions{}, bad, 8);
    EXPECT_FALSE(r.ok());
    const std::string message = r.ok() ? "" : r.status().message();
    EXPECT_NE(message.find("session_state_bad.skv"), std::string::npos) << message;
    return message;
  }

  std::string dir_, path_;
  std::unique_ptr<Model> model_;
  std::vector<char> good_;
};

TEST_F(SessionState, GoodFileLoads) {
  auto r = LoadSessionState(*model_, SessionOptions{}, path_, 8);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->session.n_past(), 40);
  EXPECT_EQ(r->info["document"], "doc.txt");
  EXPECT_EQ(r->session.n_ctx(), 48);  // n_past + the extra tokens asked for
}

TEST_F(SessionState, TruncatedFilesAreRefused) {
  for (size_t keep : {size_t{4}, size_t{20}, good_.size() / 2, good_.size() - 1}) {
    const std::vector<char> cut(good_.begin(), good_.begin() + static_cast<long>(keep));
    const std::string m = LoadError(cut, *model_);
    EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("magic") != std::string::npos ||
                m.find("entries") != std::string::npos)
        << keep << ": " << m;
  }
}

TEST_F(SessionState, FlippedPayloadByteFailsItsChecksum) {
  std::vector<char> bad = good_;
  bad[bad.size() - 100] ^= 0x20;  // inside the last layer's payload
  EXPECT_NE(LoadError(bad, *model_).find("checksum"), std::string::npos);
}

TEST_F(SessionState, TrailingBytesAndBadMagicAreRefused) {
  std::vector<char> longer = good_;
  longer.push_back('x');
  EXPECT_NE(LoadError(longer, *model_).find("unexpected bytes"), std::string::npos);
  std::vector<char> magic = good_;
  magic[0] = 'X';
  EXPECT_NE(LoadError(magic, *model_).find("magic"), std::string::npos);
}

TEST_F(SessionState, AnotherModelIsRefused) {
  auto other = Model::Load(dir_ + "/qwen2-fixture.gguf");
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_NE(LoadError(good_, **other).find("another model"), std::string::npos);
}

TEST_F(SessionState, FailedSaveKeepsTheOldFileAndLeavesNoPartialOne) {
  // The destination is a directory: the rename fails after the write.
  const std::string dir = ::testing::TempDir() + "/session_state_dir.skv";
  std::filesystem::create_directories(dir);
  auto s = Session::Create(*model_, SessionOptions{});
  ASSERT_TRUE(s.ok());
  const Status st = SaveSessionState(*s, dir, {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("session_state_dir.skv"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(dir + ".tmp"));
  std::filesystem::remove_all(dir);
  // Unwritable location: error names it, the good file is untouched.
  const Status st2 = SaveSessionState(*s, "/nonexistent_dir_skv/x.skv", {});
  ASSERT_FALSE(st2.ok());
  EXPECT_NE(st2.message().find("/nonexistent_dir_skv/x.skv"), std::string::npos);
  EXPECT_EQ(ReadAll(path_), good_);
}

}  // namespace
}  // namespace skv
