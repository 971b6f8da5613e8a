// GGUF metadata values: type names, typed getters with messages that name the
// file and key, value rendering, and tensor-info helpers.
#include <charconv>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>

#include "models/gguf.h"
#include "models/gguf_internal.h"

namespace skv {

namespace gguf_internal {

std::string Printable(std::string_view s, size_t max_len) {
  std::string out;
  const size_t n = s.size() > max_len ? max_len : s.size();
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < s.size()) out += "...";
  return out;
}

std::string DescribeBytes(const uint8_t* p, size_t n) {
  std::string text = "'";
  std::string hex = "(";
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    text += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", c);
    if (i > 0) hex += ' ';
    hex += buf;
  }
  return text + "' " + hex + ")";
}

}  // namespace gguf_internal

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: return "uint8";
    case GgufValueType::kInt8: return "int8";
    case GgufValueType::kUint16: return "uint16";
    case GgufValueType::kInt16: return "int16";
    case GgufValueType::kUint32: return "uint32";
    case GgufValueType::kInt32: return "int32";
    case GgufValueType::kFloat32: return "float32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kUint64: return "uint64";
    case GgufValueType::kInt64: return "int64";
    case GgufValueType::kFloat64: return "float64";
  }
  return "unknown";
}

uint64_t GgufValue::array_size() const {
  if (type != GgufValueType::kArray) return 0;
  return std::visit(
      [](const auto& d) -> uint64_t {
        using D = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<D, std::vector<uint64_t>> ||
                      std::is_same_v<D, std::vector<int64_t>> ||
                      std::is_same_v<D, std::vector<double>> ||
                      std::is_same_v<D, std::vector<bool>> ||
                      std::is_same_v<D, std::vector<std::string_view>>) {
          return d.size();
        } else {
          return 0;
        }
      },
      data);
}

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow by the parser
  return n;
}

std::string GgufTensorInfo::ShapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

std::string KeyName(std::string_view key) {
  return "metadata key '" + gguf_internal::Printable(key) + "'";
}

// "string", "uint32", "array of string".
std::string TypeDesc(const GgufValue& v) {
  if (v.type == GgufValueType::kArray) {
    return std::string("array of ") + GgufValueTypeName(v.array_type);
  }
  return GgufValueTypeName(v.type);
}

bool IsIntegerType(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      return true;
    default:
      return false;
  }
}

bool IsFloatType(GgufValueType t) {
  return t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64;
}

std::string FormatFloat(double x, bool as_f32) {
  char buf[64];
  std::to_chars_result r =
      as_f32 ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(x))
             : std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, r.ptr);
}

void AppendQuoted(std::string* out, std::string_view s) {
  *out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          *out += buf;
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
}

}  // namespace

// Shared by the getters: the error for a key of the wrong type.
static Status WrongType(const std::string& path, std::string_view key,
                        const GgufValue& v, const char* expected) {
  return Status::Error(path + ": " + KeyName(key) + " has type " + TypeDesc(v) +
                       ", expected " + expected);
}

static Status Missing(const std::string& path, std::string_view key) {
  return Status::Error(path + ": missing required key '" +
                       gguf_internal::Printable(key) + "'");
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

StatusOr<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (!IsIntegerType(v->type)) {
    return WrongType(path_, key, *v, "an integer");
  }
  if (const auto* u = std::get_if<uint64_t>(&v->data)) return *u;
  const int64_t i = std::get<int64_t>(v->data);
  if (i < 0) {
    return Status::Error(path_ + ": " + KeyName(key) + " has value " +
                         std::to_string(i) + ", expected a non-negative integer");
  }
  return static_cast<uint64_t>(i);
}

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (!IsIntegerType(v->type)) return WrongType(path_, key, *v, "an integer");
  if (const auto* i = std::get_if<int64_t>(&v->data)) return *i;
  const uint64_t u = std::get<uint64_t>(v->data);
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::Error(path_ + ": " + KeyName(key) + " has value " +
                         std::to_string(u) + ", which does not fit in int64");
  }
  return static_cast<int64_t>(u);
}

StatusOr<float> GgufFile::GetF32(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (const auto* d = std::get_if<double>(&v->data)) return static_cast<float>(*d);
  if (IsIntegerType(v->type)) {
    if (const auto* u = std::get_if<uint64_t>(&v->data)) return static_cast<float>(*u);
    return static_cast<float>(std::get<int64_t>(v->data));
  }
  return WrongType(path_, key, *v, "a number");
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kBool) return WrongType(path_, key, *v, "a bool");
  return std::get<bool>(v->data);
}

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kString) {
    return WrongType(path_, key, *v, "a string");
  }
  return std::string(std::get<std::string_view>(v->data));
}

StatusOr<uint64_t> GgufFile::GetUintOr(std::string_view key, uint64_t def) const {
  if (Find(key) == nullptr) return def;
  return GetUint(key);
}

StatusOr<float> GgufFile::GetF32Or(std::string_view key, float def) const {
  if (Find(key) == nullptr) return def;
  return GetF32(key);
}

StatusOr<bool> GgufFile::GetBoolOr(std::string_view key, bool def) const {
  if (Find(key) == nullptr) return def;
  return GetBool(key);
}

StatusOr<std::string> GgufFile::GetStringOr(std::string_view key,
                                            const std::string& def) const {
  if (Find(key) == nullptr) return def;
  return GetString(key);
}

StatusOr<const std::vector<std::string_view>*> GgufFile::GetStringArray(
    std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kArray || v->array_type != GgufValueType::kString) {
    return WrongType(path_, key, *v, "an array of string");
  }
  return &std::get<std::vector<std::string_view>>(v->data);
}

StatusOr<std::vector<float>> GgufFile::GetF32Array(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kArray || !IsFloatType(v->array_type)) {
    return WrongType(path_, key, *v, "an array of float32");
  }
  const auto& d = std::get<std::vector<double>>(v->data);
  return std::vector<float>(d.begin(), d.end());
}

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kArray || !IsIntegerType(v->array_type)) {
    return WrongType(path_, key, *v, "an array of integers");
  }
  if (const auto* i = std::get_if<std::vector<int64_t>>(&v->data)) return *i;
  const auto& u = std::get<std::vector<uint64_t>>(v->data);
  std::vector<int64_t> out(u.size());
  for (size_t k = 0; k < u.size(); ++k) {
    if (u[k] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::Error(path_ + ": " + KeyName(key) + " element " +
                           std::to_string(k) + " has value " +
                           std::to_string(u[k]) + ", which does not fit in int64");
    }
    out[k] = static_cast<int64_t>(u[k]);
  }
  return out;
}

std::string GgufFile::ValueToString(const GgufValue& v, size_t max_items) {
  const bool f32 = v.type == GgufValueType::kFloat32 ||
                   (v.type == GgufValueType::kArray &&
                    v.array_type == GgufValueType::kFloat32);
  std::string out;
  auto scalar = [&](const auto& x) {
    using X = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<X, bool>) {
      out += x ? "true" : "false";
    } else if constexpr (std::is_same_v<X, double>) {
      out += FormatFloat(x, f32);
    } else if constexpr (std::is_same_v<X, std::string_view>) {
      AppendQuoted(&out, x);
    } else {
      out += std::to_string(x);
    }
  };
  std::visit(
      [&](const auto& d) {
        using D = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<D, uint64_t> || std::is_same_v<D, int64_t> ||
                      std::is_same_v<D, double> || std::is_same_v<D, bool> ||
                      std::is_same_v<D, std::string_view>) {
          scalar(d);
        } else {
          out += '[';
          const size_t n = d.size() < max_items ? d.size() : max_items;
          for (size_t i = 0; i < n; ++i) {
            if (i > 0) out += ", ";
            scalar(static_cast<typename D::value_type>(d[i]));
          }
          if (n < d.size()) {
            out += n > 0 ? ", ...] (" : "...] (";
            out += std::to_string(d.size()) + " items)";
          } else {
            out += ']';
          }
        }
      },
      v.data);
  return out;
}

}  // namespace skv
