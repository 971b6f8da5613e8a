// GGUF v2/v3 reader: memory-maps the file, validates every header field,
// metadata value and tensor descriptor against the file size before anything
// is used, and returns errors that name the file and the offending key or
// tensor. Read-only after Open(); safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "simd/ggml_types.h"

namespace skv {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* GgufValueTypeName(GgufValueType type);

// One metadata value. Scalars are widened into int64/uint64/double; arrays keep
// their element type. String arrays (vocabularies: 256K entries) are stored as
// views into the mapped file, not copies.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  GgufValueType array_type = GgufValueType::kUint8;  // element type of arrays
  std::variant<uint64_t, int64_t, double, bool, std::string_view,
               std::vector<uint64_t>, std::vector<int64_t>,
               std::vector<double>, std::vector<bool>,
               std::vector<std::string_view>>
      data;
  uint64_t array_size() const;  // 0 for scalars
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous dim
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;         // relative to the data section
  const uint8_t* data = nullptr;  // into the mapping
  uint64_t nbytes = 0;
  int64_t n_elements() const;
  int64_t rows() const { return shape.empty() ? 1 : n_elements() / shape[0]; }
  std::string ShapeString() const;  // "[640, 262144]"
};

class GgufFile {
 public:
  // Maps and validates `path`. Errors name the path and the key or tensor.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  // The mapped tensor data, [data_offset, file_size): the region NUMA
  // placement policies apply to.
  std::span<const uint8_t> tensor_data() const {
    if (base_ == nullptr || data_offset_ >= size_) return {};
    return {base_ + data_offset_, static_cast<size_t>(size_ - data_offset_)};
  }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const {
    return metadata_;
  }
  const GgufValue* Find(std::string_view key) const;  // nullptr if absent

  // Typed getters. Integer getters accept any integer type whose value fits;
  // GetF32 also accepts integers. Errors name file and key and say what was
  // found instead.
  StatusOr<uint64_t> GetUint(std::string_view key) const;
  StatusOr<int64_t> GetInt(std::string_view key) const;
  StatusOr<float> GetF32(std::string_view key) const;
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::string> GetString(std::string_view key) const;
  // Same, with a default when the key is absent (a wrongly typed key is still
  // an error).
  StatusOr<uint64_t> GetUintOr(std::string_view key, uint64_t def) const;
  StatusOr<float> GetF32Or(std::string_view key, float def) const;
  StatusOr<bool> GetBoolOr(std::string_view key, bool def) const;
  StatusOr<std::string> GetStringOr(std::string_view key,
                                    const std::string& def) const;
  // Array getters (the element type must match the request's family).
  StatusOr<const std::vector<std::string_view>*> GetStringArray(
      std::string_view key) const;
  StatusOr<std::vector<float>> GetF32Array(std::string_view key) const;
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Renders a value for `structkv inspect` (arrays abbreviated).
  static std::string ValueToString(const GgufValue& v, size_t max_items = 8);

 private:
  GgufFile() = default;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t size_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  const uint8_t* base_ = nullptr;  // [size_] mapping
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  friend class GgufParser;
};

}  // namespace skv
