#include "models/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "models/gguf_test_util.h"

namespace skv {
namespace {

const std::vector<ChatMessage> kChat = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "Bye"},
};

TEST(FormatChat, Llama3) {
  EXPECT_EQ(FormatChat(ChatFamily::kLlama3, kChat, true),
            "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(FormatChat, ChatMl) {
  EXPECT_EQ(FormatChat(ChatFamily::kChatMl, kChat, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(FormatChat(ChatFamily::kChatMl, {{"user", "x"}}, false),
            "<|im_start|>user\nx<|im_end|>\n");
}

TEST(FormatChat, GemmaFoldsSystemIntoFirstUserTurn) {
  EXPECT_EQ(FormatChat(ChatFamily::kGemma, kChat, true),
            "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n"
            "<start_of_turn>model\nHello.<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(FormatChat(ChatFamily::kGemma, {{"user", "  padded \n"}}, false),
            "<start_of_turn>user\npadded<end_of_turn>\n");
}

TEST(FormatChat, Llama2) {
  EXPECT_EQ(FormatChat(ChatFamily::kLlama2, kChat, true),
            "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST]Hello.</s>"
            "<s>[INST] Bye [/INST]");
  EXPECT_EQ(FormatChat(ChatFamily::kLlama2, {{"user", "Hi"}}, true), "[INST] Hi [/INST]");
}

TEST(ChatFamilyName, Names) {
  EXPECT_STREQ(ChatFamilyName(ChatFamily::kLlama3), "llama3");
  EXPECT_STREQ(ChatFamilyName(ChatFamily::kChatMl), "chatml");
  EXPECT_STREQ(ChatFamilyName(ChatFamily::kGemma), "gemma");
  EXPECT_STREQ(ChatFamilyName(ChatFamily::kLlama2), "llama2");
}

// Writes a metadata-only GGUF and runs detection on it.
class DetectTest : public testing::Test {
 protected:
  void SetUp() override { dir_ = gguf_test::MakeTempDir("skv_chat_test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StatusOr<ChatFamily> Detect(const std::string& arch, const std::string& tmpl,
                              const std::vector<std::string>& tokens = {}) {
    gguf_test::GgufWriter w;
    w.AddString("general.architecture", arch);
    if (!tmpl.empty()) w.AddString("tokenizer.chat_template", tmpl);
    if (!tokens.empty()) w.AddStringArray("tokenizer.ggml.tokens", tokens);
    const std::string path = dir_ + "/m" + std::to_string(n_++) + ".gguf";
    gguf_test::WriteFile(path, w.Build());
    auto file = GgufFile::Open(path);
    if (!file.ok()) return file.status();
    return DetectChatFamily(**file);
  }

  std::string dir_;
  int n_ = 0;
};

TEST_F(DetectTest, FromTemplateSubstrings) {
  auto f = Detect("llama", "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f, ChatFamily::kChatMl);
  f = Detect("qwen2", "{{ '<|start_header_id|>' + role + '<|end_header_id|>' }}");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, ChatFamily::kLlama3);
  f = Detect("llama", "{{ '<start_of_turn>' + role }}");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, ChatFamily::kGemma);
  f = Detect("gemma3", "{{ bos_token + '[INST] ' + content + ' [/INST]' }}");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, ChatFamily::kLlama2);
}

TEST_F(DetectTest, FromArchitecture) {
  auto f = Detect("gemma3", "");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f, ChatFamily::kGemma);
  f = Detect("qwen2", "");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, ChatFamily::kChatMl);
  f = Detect("llama", "", {"<s>", "<|start_header_id|>", "x"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, ChatFamily::kLlama3);
  f = Detect("llama", "", {"<s>", "</s>", "x"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, ChatFamily::kLlama2);
}

TEST_F(DetectTest, UnsupportedNamesFileAndFamilies) {
  // Phi-3's template is a family we do not render; phi3 has no fallback.
  auto f = Detect("phi3", "{{'<|user|>' + content + '<|end|>' + '<|assistant|>'}}");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find(".gguf"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("llama3, chatml, gemma, llama2"), std::string::npos);
  EXPECT_NE(f.status().message().find("phi3"), std::string::npos);
}

TEST(DetectReal, GemmaModel) {
  const std::string path = std::string(SKV_SOURCE_DIR) + "/models-cache/gemma-3-270m-q4_k_m.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto f = DetectChatFamily(**file);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f, ChatFamily::kGemma);
}

}  // namespace
}  // namespace skv
