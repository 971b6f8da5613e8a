// Chat formats as llama.cpp's built-in templates render them (llama-chat.cpp),
// so that prompts match what llama.cpp would feed the same model.
#include "models/chat_template.h"

#include <algorithm>
#include <sstream>

namespace skv {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string Trim(std::string_view s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

constexpr const char* kSupported = "llama3, chatml, gemma, llama2";

// The same substring tests, in the same order, as llama.cpp's
// llm_chat_detect_template, restricted to the families we render. Returns
// false for templates of other families.
bool DetectFromTemplate(std::string_view tmpl, ChatFamily* family) {
  if (Contains(tmpl, "<|im_start|>")) {
    // Phi-4 (<|im_sep|>) and SmolVLM (<end_of_utterance>) reuse the marker.
    if (Contains(tmpl, "<|im_sep|>") || Contains(tmpl, "<end_of_utterance>")) return false;
    *family = ChatFamily::kChatMl;
    return true;
  }
  if (tmpl.find("mistral") == 0 || Contains(tmpl, "[INST]")) {
    // Mistral's v1/v3/v7 variants differ in spacing and system handling.
    if (Contains(tmpl, "[SYSTEM_PROMPT]") || tmpl.find("mistral") == 0 ||
        Contains(tmpl, "' [INST] ' + system_message") ||
        Contains(tmpl, "[AVAILABLE_TOOLS]")) {
      return false;
    }
    *family = ChatFamily::kLlama2;
    return true;
  }
  if (Contains(tmpl, "<|assistant|>") && Contains(tmpl, "<|end|>")) return false;  // phi-3
  if (Contains(tmpl, "<start_of_turn>")) {
    *family = ChatFamily::kGemma;
    return true;
  }
  if (Contains(tmpl, "<|start_header_id|>") && Contains(tmpl, "<|end_header_id|>")) {
    *family = ChatFamily::kLlama3;
    return true;
  }
  return false;
}

}  // namespace

const char* ChatFamilyName(ChatFamily family) {
  switch (family) {
    case ChatFamily::kLlama3: return "llama3";
    case ChatFamily::kChatMl: return "chatml";
    case ChatFamily::kGemma: return "gemma";
    case ChatFamily::kLlama2: return "llama2";
  }
  return "unknown";
}

StatusOr<ChatFamily> DetectChatFamily(const GgufFile& file) {
  SKV_ASSIGN_OR_RETURN(std::string tmpl, file.GetStringOr("tokenizer.chat_template", ""));
  ChatFamily family;
  if (!tmpl.empty() && DetectFromTemplate(tmpl, &family)) return family;
  SKV_ASSIGN_OR_RETURN(std::string arch, file.GetStringOr("general.architecture", ""));
  if (arch == "gemma" || arch == "gemma2" || arch == "gemma3") return ChatFamily::kGemma;
  if (arch == "qwen2" || arch == "qwen3" || arch == "qwen") return ChatFamily::kChatMl;
  if (arch == "llama") {
    // Llama 3 vocabularies carry the header markers; Llama 2 ones do not.
    if (file.Find("tokenizer.ggml.tokens") != nullptr) {
      SKV_ASSIGN_OR_RETURN(const std::vector<std::string_view>* tokens,
                           file.GetStringArray("tokenizer.ggml.tokens"));
      if (std::find(tokens->begin(), tokens->end(), "<|start_header_id|>") != tokens->end()) {
        return ChatFamily::kLlama3;
      }
    }
    return ChatFamily::kLlama2;
  }
  return Status::Error(file.path() + ": no supported chat format (" +
                       (tmpl.empty() ? std::string("no tokenizer.chat_template")
                                     : std::string("tokenizer.chat_template not recognised")) +
                       ", general.architecture '" + arch + "'); supported: " + kSupported);
}

std::string FormatChat(ChatFamily family, const std::vector<ChatMessage>& messages,
                       bool add_generation_prompt) {
  std::ostringstream ss;
  switch (family) {
    case ChatFamily::kLlama3:
      for (const auto& m : messages) {
        ss << "<|start_header_id|>" << m.role << "<|end_header_id|>\n\n"
           << Trim(m.content) << "<|eot_id|>";
      }
      if (add_generation_prompt) ss << "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatFamily::kChatMl:
      for (const auto& m : messages) {
        ss << "<|im_start|>" << m.role << "\n" << m.content << "<|im_end|>\n";
      }
      if (add_generation_prompt) ss << "<|im_start|>assistant\n";
      break;
    case ChatFamily::kGemma: {
      // Gemma has no system role: its template prepends the system text to
      // the first user turn.
      std::string system;
      for (const auto& m : messages) {
        if (m.role == "system") {
          system += Trim(m.content);
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : m.role;
        ss << "<start_of_turn>" << role << "\n";
        if (!system.empty() && role != "model") {
          ss << system << "\n\n";
          system.clear();
        }
        ss << Trim(m.content) << "<end_of_turn>\n";
      }
      if (add_generation_prompt) ss << "<start_of_turn>model\n";
      break;
    }
    case ChatFamily::kLlama2: {
      // llama.cpp's "llama2-sys-bos" rendering of Meta's format: the system
      // prompt sits in <<SYS>> inside the first [INST]; each answer ends with
      // </s> and the next turn opens with <s>. The generation prompt is
      // implicit after [/INST].
      bool inside_turn = true;  // the leading <s> is the tokenizer's BOS
      ss << "[INST] ";
      for (const auto& m : messages) {
        if (!inside_turn) {
          inside_turn = true;
          ss << "<s>[INST] ";
        }
        if (m.role == "system") {
          ss << "<<SYS>>\n" << m.content << "\n<</SYS>>\n\n";
        } else if (m.role == "user") {
          ss << m.content << " [/INST]";
        } else {
          ss << m.content << "</s>";
          inside_turn = false;
        }
      }
      break;
    }
  }
  return ss.str();
}

}  // namespace skv
