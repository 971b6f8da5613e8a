// UTF-8 helpers shared by the tokenizers: code point decoding with the same
// leniency as llama.cpp (so that invalid input tokenizes identically), and the
// GPT-2 byte <-> unicode mapping used by byte-level BPE vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace skv::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces (1 for stray
// continuation bytes), from the high nibble only, as llama.cpp splits text.
inline size_t Utf8SeqLen(char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

// Decodes one code point at *offset and advances it. Invalid sequences
// consume one byte and yield U+FFFD. Overlong forms are accepted (llama.cpp
// does the same); values past U+10FFFF and surrogates become U+FFFD so that
// the result always re-encodes to valid UTF-8.
uint32_t DecodeCodepoint(std::string_view s, size_t* offset);

void AppendUtf8(uint32_t cp, std::string* out);

// Rewrites `s` as valid UTF-8 per DecodeCodepoint. Returns false (and leaves
// *out untouched) when `s` is already valid and needs no rewrite.
bool SanitizeUtf8(std::string_view s, std::string* out);

// GPT-2's byte-level alphabet: every byte maps to a printable code point
// (printable Latin-1 bytes to themselves, the rest to U+0100 + n).
const std::string& ByteToGpt2(uint8_t byte);
// Inverse of ByteToGpt2 on code points; -1 when `cp` is not in the alphabet.
int Gpt2ToByte(uint32_t cp);

}  // namespace skv::unicode
