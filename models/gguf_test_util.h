// Test helper: a small GGUF writer that builds valid (or deliberately broken)
// files in memory, plus temp-file helpers. Header-only; tests only.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/gguf.h"

namespace skv::gguf_test {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Layout alignment of the data section and tensor offsets. Does not add the
  // general.alignment key (use AddScalar for that, to control its type).
  void set_alignment(uint64_t a) { alignment_ = a; }
  void set_magic(std::string m) { magic_ = std::move(m); }
  // Override the counts written in the header (to lie about them).
  void set_tensor_count(uint64_t n) { tensor_count_override_ = n; }
  void set_kv_count(uint64_t n) { kv_count_override_ = n; }

  template <typename T>
  void AddScalar(std::string_view key, GgufValueType type, T value) {
    std::string v;
    AppendScalar(&v, type, value);
    AddRawKv(key, static_cast<uint32_t>(type), v);
  }
  void AddString(std::string_view key, std::string_view value) {
    std::string v;
    AppendString(&v, value);
    AddRawKv(key, static_cast<uint32_t>(GgufValueType::kString), v);
  }
  template <typename T>
  void AddArray(std::string_view key, GgufValueType elem,
                const std::vector<T>& values) {
    std::string v;
    Append<uint32_t>(&v, static_cast<uint32_t>(elem));
    Append<uint64_t>(&v, values.size());
    for (const T& x : values) AppendScalar(&v, elem, x);
    AddRawKv(key, static_cast<uint32_t>(GgufValueType::kArray), v);
  }
  void AddStringArray(std::string_view key, const std::vector<std::string>& values) {
    std::string v;
    Append<uint32_t>(&v, static_cast<uint32_t>(GgufValueType::kString));
    Append<uint64_t>(&v, values.size());
    for (const auto& s : values) AppendString(&v, s);
    AddRawKv(key, static_cast<uint32_t>(GgufValueType::kArray), v);
  }
  // A key with an arbitrary type number and hand-encoded value bytes.
  void AddRawKv(std::string_view key, uint32_t type, std::string_view value) {
    Append<uint64_t>(&kvs_, key.size());
    kvs_ += key;
    Append<uint32_t>(&kvs_, type);
    kvs_ += value;
    ++kv_count_;
  }

  // Adds a tensor whose bytes are `data`; the offset is the next aligned
  // position in the data section unless given. `type` is a raw GGML number.
  void AddTensor(std::string_view name, const std::vector<uint64_t>& shape,
                 uint32_t type, std::string data,
                 std::optional<uint64_t> offset = std::nullopt) {
    Tensor t;
    t.name = std::string(name);
    t.shape = shape;
    t.type = type;
    t.data = std::move(data);
    t.offset = offset;
    tensors_.push_back(std::move(t));
  }
  void AddTensor(std::string_view name, const std::vector<uint64_t>& shape,
                 GgmlType type, std::string data,
                 std::optional<uint64_t> offset = std::nullopt) {
    AddTensor(name, shape, static_cast<uint32_t>(type), std::move(data), offset);
  }

  std::string Build() const {
    std::string out = magic_;
    Append<uint32_t>(&out, version_);
    Append<uint64_t>(&out, tensor_count_override_.value_or(tensors_.size()));
    Append<uint64_t>(&out, kv_count_override_.value_or(kv_count_));
    out += kvs_;
    // Lay out the data section first so that the infos know the offsets.
    std::string data;
    std::vector<uint64_t> offsets;
    for (const Tensor& t : tensors_) {
      uint64_t off;
      if (t.offset) {
        off = *t.offset;
      } else {
        off = (data.size() + alignment_ - 1) / alignment_ * alignment_;
      }
      if (!t.data.empty()) {  // empty data: just an offset (may be absurd)
        if (data.size() < off + t.data.size()) data.resize(off + t.data.size(), '\0');
        std::memcpy(data.data() + off, t.data.data(), t.data.size());
      }
      offsets.push_back(off);
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor& t = tensors_[i];
      AppendString(&out, t.name);
      Append<uint32_t>(&out, static_cast<uint32_t>(t.shape.size()));
      for (uint64_t d : t.shape) Append<uint64_t>(&out, d);
      Append<uint32_t>(&out, t.type);
      Append<uint64_t>(&out, offsets[i]);
    }
    if (!tensors_.empty()) {
      out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, '\0');
      out += data;
    }
    return out;
  }

  template <typename T>
  static void Append(std::string* out, T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));
    out->append(buf, sizeof(T));
  }
  static void AppendString(std::string* out, std::string_view s) {
    Append<uint64_t>(out, s.size());
    *out += s;
  }
  template <typename T>
  static void AppendScalar(std::string* out, GgufValueType type, T x) {
    switch (type) {
      case GgufValueType::kUint8: Append<uint8_t>(out, static_cast<uint8_t>(x)); break;
      case GgufValueType::kInt8: Append<int8_t>(out, static_cast<int8_t>(x)); break;
      case GgufValueType::kUint16: Append<uint16_t>(out, static_cast<uint16_t>(x)); break;
      case GgufValueType::kInt16: Append<int16_t>(out, static_cast<int16_t>(x)); break;
      case GgufValueType::kUint32: Append<uint32_t>(out, static_cast<uint32_t>(x)); break;
      case GgufValueType::kInt32: Append<int32_t>(out, static_cast<int32_t>(x)); break;
      case GgufValueType::kFloat32: Append<float>(out, static_cast<float>(x)); break;
      case GgufValueType::kBool: Append<uint8_t>(out, static_cast<uint8_t>(x)); break;
      case GgufValueType::kUint64: Append<uint64_t>(out, static_cast<uint64_t>(x)); break;
      case GgufValueType::kInt64: Append<int64_t>(out, static_cast<int64_t>(x)); break;
      case GgufValueType::kFloat64: Append<double>(out, static_cast<double>(x)); break;
      default: std::abort();  // strings and arrays have their own adders
    }
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> shape;
    uint32_t type = 0;
    std::string data;
    std::optional<uint64_t> offset;
  };
  uint32_t version_;
  std::string magic_ = "GGUF";
  uint64_t alignment_ = 32;
  std::string kvs_;
  uint64_t kv_count_ = 0;
  std::optional<uint64_t> tensor_count_override_;
  std::optional<uint64_t> kv_count_override_;
  std::vector<Tensor> tensors_;
};

// A fresh directory under TMPDIR (or /tmp), removed by the caller if wanted.
inline std::string MakeTempDir(const std::string& prefix = "skv_gguf_test") {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "_XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) std::abort();
  return std::string(buf.data());
}

// Replaces the file rather than truncating it in place: on ext4, rewriting a
// truncated file forces a flush on close, which makes loops of writes slow.
inline void WriteFile(const std::string& path, std::string_view bytes) {
  ::unlink(path.c_str());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) std::abort();
}

}  // namespace skv::gguf_test
