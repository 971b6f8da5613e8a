// Helpers shared by gguf.cc and gguf_values.cc; not part of the GGUF API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace skv::gguf_internal {

// A key or tensor name made safe for an error message: non-printable bytes
// become \xNN, and names longer than `max_len` are cut with "...".
std::string Printable(std::string_view s, size_t max_len = 96);

// `n` raw bytes as "'GGJT' (47 47 4a 54)" for magic-number errors.
std::string DescribeBytes(const uint8_t* p, size_t n);

}  // namespace skv::gguf_internal
