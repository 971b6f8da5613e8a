#include "models/unicode_utf8.h"

#include <array>

namespace skv::unicode {
namespace {

bool IsCont(std::string_view s, size_t i) {
  return i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80;
}

struct Gpt2Tables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 512> cp_to_byte;  // alphabet code points are < 0x200

  Gpt2Tables() {
    cp_to_byte.fill(-1);
    std::array<bool, 256> printable{};
    for (int b = 0x21; b <= 0x7E; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = printable[b] ? b : 256 + n++;
      AppendUtf8(cp, &byte_to_utf8[b]);
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const Gpt2Tables& Tables() {
  static const Gpt2Tables tables;
  return tables;
}

}  // namespace

uint32_t DecodeCodepoint(std::string_view s, size_t* offset) {
  const size_t i = *offset;
  const uint8_t c = static_cast<uint8_t>(s[i]);
  uint32_t cp;
  size_t n;
  if (c < 0x80) {
    *offset = i + 1;
    return c;
  } else if ((c & 0xE0) == 0xC0 && IsCont(s, i + 1)) {
    cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3F);
    n = 2;
  } else if ((c & 0xF0) == 0xE0 && IsCont(s, i + 1) && IsCont(s, i + 2)) {
    cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3F);
    n = 3;
  } else if ((c & 0xF8) == 0xF0 && IsCont(s, i + 1) && IsCont(s, i + 2) &&
             IsCont(s, i + 3)) {
    cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) |
         ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3F);
    n = 4;
  } else {
    *offset = i + 1;
    return kReplacementChar;
  }
  *offset = i + n;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kReplacementChar;
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp <= 0x7F) {
    out->push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool SanitizeUtf8(std::string_view s, std::string* out) {
  // Fast path: find the first byte where decoding and re-encoding differ.
  size_t i = 0;
  std::string tmp;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t next = i;
    const uint32_t cp = DecodeCodepoint(s, &next);
    tmp.clear();
    AppendUtf8(cp, &tmp);
    if (std::string_view(tmp) != s.substr(i, next - i)) break;
    i = next;
  }
  if (i == s.size()) return false;
  out->assign(s.data(), i);
  while (i < s.size()) AppendUtf8(DecodeCodepoint(s, &i), out);
  return true;
}

const std::string& ByteToGpt2(uint8_t byte) { return Tables().byte_to_utf8[byte]; }

int Gpt2ToByte(uint32_t cp) {
  return cp < 512 ? Tables().cp_to_byte[cp] : -1;
}

}  // namespace skv::unicode
