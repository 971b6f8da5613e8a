// Chat prompt formatting for the supported instruct families. The family is
// detected from tokenizer.chat_template (as llama.cpp does) or from the
// architecture when the template is absent.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "models/gguf.h"

namespace skv {

enum class ChatFamily { kLlama3, kChatMl, kGemma, kLlama2 };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

const char* ChatFamilyName(ChatFamily family);

// Error names the file and says which families are supported.
StatusOr<ChatFamily> DetectChatFamily(const GgufFile& file);

// Renders messages; with add_generation_prompt the string ends where the
// assistant's answer begins. BOS is not included (the tokenizer adds it).
std::string FormatChat(ChatFamily family,
                       const std::vector<ChatMessage>& messages,
                       bool add_generation_prompt);

}  // namespace skv
