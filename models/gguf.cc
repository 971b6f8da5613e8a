// GGUF parsing: mapping the file and validating the header, the metadata and
// the tensor descriptors. Getters and value rendering are in gguf_values.cc.
//
// Every read is checked against the bytes that remain in the file before it
// happens, every count is checked against what the remaining bytes could
// possibly hold before memory is reserved for it, and all size arithmetic is
// checked for overflow, so a hostile file yields a Status, never a crash.
#include "models/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "models/gguf_internal.h"

namespace skv {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;  // magic, version, counts
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
// Lower bounds on the encoded size of one entry, used to reject absurd counts
// before anything is reserved: key length + 1-byte key + type + 1-byte value.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
// name length + 1-byte name + n_dims + one dim + type + offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;
// Reservations are capped: a count only proves that the file is big enough
// for that many minimal entries, and real entries are far bigger.
constexpr uint64_t kMaxReserve = 16384;

std::string Num(uint64_t v) { return std::to_string(v); }

// Element size of a scalar GGUF type (strings: their 8-byte length prefix).
uint64_t EncodedElementSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
    case GgufValueType::kString:
      return 8;
    case GgufValueType::kArray:
      return 12;  // element type + length
  }
  return 0;
}

bool IsKnownValueType(uint32_t t) {
  return t <= static_cast<uint32_t>(GgufValueType::kFloat64);
}

}  // namespace

class GgufParser {
 public:
  explicit GgufParser(GgufFile* f) : f_(f), base_(f->base_), size_(f->size_) {}

  Status Parse() {
    SKV_RETURN_IF_ERROR(ParseHeader());
    SKV_RETURN_IF_ERROR(ParseMetadata());
    SKV_RETURN_IF_ERROR(ParseAlignment());
    SKV_RETURN_IF_ERROR(ParseTensorInfos());
    return PlaceTensors();
  }

 private:
  Status Err(const std::string& msg) const {
    return Status::Error(f_->path_ + ": " + msg);
  }
  uint64_t remaining() const { return size_ - pos_; }
  bool Has(uint64_t n) const { return n <= size_ - pos_; }
  Status Truncated(uint64_t need, const std::string& what) const {
    return Err("truncated file: " + what + " needs " + Num(need) +
               " bytes at offset " + Num(pos_) + ", but only " +
               Num(remaining()) + " remain (file is " + Num(size_) + " bytes)");
  }

  // Unchecked read; callers have verified Has(sizeof(T)).
  template <typename T>
  T Take() {
    T v{};
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // Checked read; `what` is a callable building the field's description,
  // called only on error (so hot loops build no strings).
  template <typename T, typename F>
  Status Read(T* out, F&& what) {
    if (!Has(sizeof(T))) return Truncated(sizeof(T), what());
    *out = Take<T>();
    return Status::Ok();
  }

  template <typename F>
  Status ReadString(std::string_view* out, F&& what) {
    if (!Has(8)) return Truncated(8, "the length of " + what());
    const uint64_t len = Take<uint64_t>();
    if (len > remaining()) {
      return Err(what() + ": string length " + Num(len) + " at offset " +
                 Num(pos_ - 8) + " runs past the end of the file (" +
                 Num(remaining()) + " bytes remain; truncated or corrupt)");
    }
    *out = std::string_view(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

  Status ParseHeader() {
    if (size_ < 4) {
      return Err("truncated file: " + Num(size_) +
                 " bytes is too short for a GGUF header (" +
                 Num(kHeaderBytes) + " bytes)");
    }
    if (std::memcmp(base_, "GGUF", 4) != 0) {
      return Err("not a GGUF file: bad magic " +
                 gguf_internal::DescribeBytes(base_, 4) + ", expected \"GGUF\"");
    }
    pos_ = 4;
    uint32_t version = 0;
    SKV_RETURN_IF_ERROR(Read(&version, [] { return std::string("the GGUF version"); }));
    const uint32_t swapped = __builtin_bswap32(version);
    if (version == 1) {
      return Err("unsupported GGUF version 1 (only versions 2 and 3 are "
                 "supported; re-convert the model with a current llama.cpp)");
    }
    if (version != 2 && version != 3) {
      if (swapped >= 1 && swapped <= 3) {
        return Err("unsupported GGUF version field " + Num(version) +
                   ": this is a big-endian GGUF file (version " + Num(swapped) +
                   "); only little-endian files are supported");
      }
      return Err("unsupported GGUF version " + Num(version) +
                 " (only versions 2 and 3 are supported)");
    }
    f_->version_ = version;
    SKV_RETURN_IF_ERROR(Read(&tensor_count_, [] {
      return std::string("the tensor_count header field");
    }));
    SKV_RETURN_IF_ERROR(Read(&kv_count_, [] {
      return std::string("the kv_count header field");
    }));
    // Reject counts that the rest of the file could not possibly hold.
    const uint64_t rest = remaining();
    if (kv_count_ > rest / kMinKvBytes) {
      return Err("kv_count " + Num(kv_count_) + " is impossibly large: the " +
                 Num(rest) + " bytes after the header hold at most " +
                 Num(rest / kMinKvBytes) +
                 " metadata entries (truncated or corrupt file)");
    }
    const uint64_t rest_for_tensors = rest - kv_count_ * kMinKvBytes;
    if (tensor_count_ > rest_for_tensors / kMinTensorInfoBytes) {
      return Err("tensor_count " + Num(tensor_count_) +
                 " is impossibly large: after " + Num(kv_count_) +
                 " metadata entries the remaining bytes hold at most " +
                 Num(rest_for_tensors / kMinTensorInfoBytes) +
                 " tensor infos (truncated or corrupt file)");
    }
    return Status::Ok();
  }

  Status ParseMetadata() {
    f_->metadata_.reserve(std::min(kv_count_, kMaxReserve));
    for (uint64_t i = 0; i < kv_count_; ++i) {
      std::string_view key;
      SKV_RETURN_IF_ERROR(ReadString(&key, [&] {
        return "the key of metadata entry " + Num(i) + " of " + Num(kv_count_);
      }));
      if (key.empty()) {
        return Err("metadata entry " + Num(i) + " of " + Num(kv_count_) +
                   " has an empty key");
      }
      uint32_t type = 0;
      SKV_RETURN_IF_ERROR(Read(&type, [&] {
        return "the value type of " + KeyDesc(key);
      }));
      if (!IsKnownValueType(type)) {
        return Err(KeyDesc(key) + " has unknown value type " + Num(type));
      }
      GgufValue value;
      SKV_RETURN_IF_ERROR(ReadValue(static_cast<GgufValueType>(type), key, &value));
      auto [it, inserted] =
          f_->metadata_index_.emplace(std::string(key), f_->metadata_.size());
      if (!inserted) {
        return Err("duplicate " + KeyDesc(key) + " (metadata entries " +
                   Num(it->second) + " and " + Num(i) + ")");
      }
      f_->metadata_.emplace_back(std::string(key), std::move(value));
    }
    return Status::Ok();
  }

  std::string KeyDesc(std::string_view key) const {
    return "metadata key '" + gguf_internal::Printable(key) + "'";
  }

  template <typename T>
  Status ReadScalarAs(GgufValue* v, std::string_view key) {
    T x{};
    SKV_RETURN_IF_ERROR(Read(&x, [&] { return "the value of " + KeyDesc(key); }));
    if constexpr (std::is_same_v<T, float>) {
      v->data = static_cast<double>(x);
    } else if constexpr (std::is_floating_point_v<T>) {
      v->data = x;
    } else if constexpr (std::is_signed_v<T>) {
      v->data = static_cast<int64_t>(x);
    } else {
      v->data = static_cast<uint64_t>(x);
    }
    return Status::Ok();
  }

  Status ReadValue(GgufValueType type, std::string_view key, GgufValue* v) {
    v->type = type;
    switch (type) {
      case GgufValueType::kUint8: return ReadScalarAs<uint8_t>(v, key);
      case GgufValueType::kInt8: return ReadScalarAs<int8_t>(v, key);
      case GgufValueType::kUint16: return ReadScalarAs<uint16_t>(v, key);
      case GgufValueType::kInt16: return ReadScalarAs<int16_t>(v, key);
      case GgufValueType::kUint32: return ReadScalarAs<uint32_t>(v, key);
      case GgufValueType::kInt32: return ReadScalarAs<int32_t>(v, key);
      case GgufValueType::kFloat32: return ReadScalarAs<float>(v, key);
      case GgufValueType::kUint64: return ReadScalarAs<uint64_t>(v, key);
      case GgufValueType::kInt64: return ReadScalarAs<int64_t>(v, key);
      case GgufValueType::kFloat64: return ReadScalarAs<double>(v, key);
      case GgufValueType::kBool: {
        uint8_t b = 0;
        SKV_RETURN_IF_ERROR(Read(&b, [&] { return "the value of " + KeyDesc(key); }));
        if (b > 1) {
          return Err(KeyDesc(key) + " has bool value " + Num(b) +
                     " (must be 0 or 1)");
        }
        v->data = b != 0;
        return Status::Ok();
      }
      case GgufValueType::kString: {
        std::string_view s;
        SKV_RETURN_IF_ERROR(ReadString(&s, [&] { return "the value of " + KeyDesc(key); }));
        v->data = s;
        return Status::Ok();
      }
      case GgufValueType::kArray:
        return ReadArray(key, v);
    }
    return Err(KeyDesc(key) + " has unknown value type " +
               Num(static_cast<uint32_t>(type)));
  }

  // Reads n fixed-size elements of type Src into a vector<Dst>; the caller
  // has checked that n * sizeof(Src) bytes remain.
  template <typename Src, typename Dst>
  std::vector<Dst> TakeArray(uint64_t n) {
    std::vector<Dst> out(n);
    const uint8_t* p = base_ + pos_;
    for (uint64_t i = 0; i < n; ++i) {
      Src x;
      std::memcpy(&x, p + i * sizeof(Src), sizeof(Src));
      out[i] = static_cast<Dst>(x);
    }
    pos_ += n * sizeof(Src);
    return out;
  }

  Status ReadArray(std::string_view key, GgufValue* v) {
    uint32_t elem = 0;
    SKV_RETURN_IF_ERROR(Read(&elem, [&] {
      return "the array element type of " + KeyDesc(key);
    }));
    if (!IsKnownValueType(elem)) {
      return Err(KeyDesc(key) + " is an array of unknown value type " + Num(elem));
    }
    const auto et = static_cast<GgufValueType>(elem);
    if (et == GgufValueType::kArray) {
      return Err(KeyDesc(key) +
                 " is a nested array (arrays of arrays are not supported)");
    }
    v->array_type = et;
    uint64_t n = 0;
    SKV_RETURN_IF_ERROR(Read(&n, [&] { return "the array length of " + KeyDesc(key); }));
    const uint64_t elem_bytes = EncodedElementSize(et);
    if (n > remaining() / elem_bytes) {
      return Err(KeyDesc(key) + ": array length " + Num(n) + " of " +
                 GgufValueTypeName(et) + " is larger than the remaining " +
                 Num(remaining()) +
                 " bytes could hold (truncated or corrupt file)");
    }
    switch (et) {
      case GgufValueType::kUint8: v->data = TakeArray<uint8_t, uint64_t>(n); break;
      case GgufValueType::kInt8: v->data = TakeArray<int8_t, int64_t>(n); break;
      case GgufValueType::kUint16: v->data = TakeArray<uint16_t, uint64_t>(n); break;
      case GgufValueType::kInt16: v->data = TakeArray<int16_t, int64_t>(n); break;
      case GgufValueType::kUint32: v->data = TakeArray<uint32_t, uint64_t>(n); break;
      case GgufValueType::kInt32: v->data = TakeArray<int32_t, int64_t>(n); break;
      case GgufValueType::kUint64: v->data = TakeArray<uint64_t, uint64_t>(n); break;
      case GgufValueType::kInt64: v->data = TakeArray<int64_t, int64_t>(n); break;
      case GgufValueType::kFloat32: v->data = TakeArray<float, double>(n); break;
      case GgufValueType::kFloat64: v->data = TakeArray<double, double>(n); break;
      case GgufValueType::kBool: {
        std::vector<bool> out(n);
        for (uint64_t i = 0; i < n; ++i) {
          const uint8_t b = base_[pos_ + i];
          if (b > 1) {
            return Err(KeyDesc(key) + ": bool array element " + Num(i) +
                       " has value " + Num(b) + " (must be 0 or 1)");
          }
          out[i] = b != 0;
        }
        pos_ += n;
        v->data = std::move(out);
        break;
      }
      case GgufValueType::kString: {
        std::vector<std::string_view> out;
        out.reserve(n);  // n <= remaining / 8: bounded by the file size
        for (uint64_t i = 0; i < n; ++i) {
          if (!Has(8)) {
            return Truncated(8, "the length of string " + Num(i) + " of " +
                                    Num(n) + " in " + KeyDesc(key));
          }
          const uint64_t len = Take<uint64_t>();
          if (len > remaining()) {
            return Err(KeyDesc(key) + ": string " + Num(i) + " of " + Num(n) +
                       " has length " + Num(len) + " at offset " +
                       Num(pos_ - 8) + ", past the end of the file (" +
                       Num(remaining()) +
                       " bytes remain; truncated or corrupt)");
          }
          out.emplace_back(reinterpret_cast<const char*>(base_ + pos_), len);
          pos_ += len;
        }
        v->data = std::move(out);
        break;
      }
      case GgufValueType::kArray:
        break;  // rejected above
    }
    return Status::Ok();
  }

  Status ParseAlignment() {
    f_->alignment_ = kDefaultAlignment;
    constexpr std::string_view kKey = "general.alignment";
    if (f_->Find(kKey) == nullptr) return Status::Ok();
    StatusOr<uint64_t> a = f_->GetUint(kKey);
    if (!a.ok()) return a.status();
    if (*a == 0 || !std::has_single_bit(*a)) {
      return Err("metadata key 'general.alignment' is " + Num(*a) +
                 ", but the alignment must be a nonzero power of two");
    }
    f_->alignment_ = *a;
    return Status::Ok();
  }

  std::string TensorDesc(std::string_view name) const {
    return "tensor '" + gguf_internal::Printable(name) + "'";
  }

  Status ParseTensorInfos() {
    auto& tensors = f_->tensors_;
    tensors.reserve(std::min(tensor_count_, kMaxReserve));
    for (uint64_t i = 0; i < tensor_count_; ++i) {
      std::string_view name;
      SKV_RETURN_IF_ERROR(ReadString(&name, [&] {
        return "the name of tensor info " + Num(i) + " of " + Num(tensor_count_);
      }));
      if (name.empty()) {
        return Err("tensor info " + Num(i) + " of " + Num(tensor_count_) +
                   " has an empty name");
      }
      GgufTensorInfo t;
      t.name = std::string(name);
      uint32_t n_dims = 0;
      SKV_RETURN_IF_ERROR(Read(&n_dims, [&] {
        return "the dimension count of " + TensorDesc(name);
      }));
      if (n_dims == 0 || n_dims > kMaxDims) {
        return Err(TensorDesc(name) + " has " + Num(n_dims) +
                   " dimensions (must be 1 to " + Num(kMaxDims) + ")");
      }
      t.shape.resize(n_dims);
      int64_t n_elements = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t dim = 0;
        SKV_RETURN_IF_ERROR(Read(&dim, [&] {
          return "dimension " + Num(d) + " of " + TensorDesc(name);
        }));
        if (dim == 0) {
          return Err(TensorDesc(name) + " has dimension " + Num(d) +
                     " equal to 0 (every dimension must be at least 1)");
        }
        if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Err(TensorDesc(name) + " has dimension " + Num(d) + " = " +
                     Num(dim) + ", which is negative as int64");
        }
        t.shape[d] = static_cast<int64_t>(dim);
        if (__builtin_mul_overflow(n_elements, t.shape[d], &n_elements)) {
          return Err(TensorDesc(name) + ": the element count of shape " +
                     t.ShapeString() + " overflows int64");
        }
      }
      uint32_t type = 0;
      SKV_RETURN_IF_ERROR(Read(&type, [&] { return "the type of " + TensorDesc(name); }));
      const GgmlTypeTraits* traits = FindGgmlType(type);
      if (traits == nullptr) {
        return Err(TensorDesc(name) + " has unknown GGML type " + Num(type));
      }
      t.type = traits->type;
      SKV_RETURN_IF_ERROR(Read(&t.offset, [&] {
        return "the data offset of " + TensorDesc(name);
      }));
      auto [it, inserted] = f_->tensor_index_.emplace(t.name, tensors.size());
      if (!inserted) {
        return Err("duplicate " + TensorDesc(name) + " (tensor infos " +
                   Num(it->second) + " and " + Num(i) + " have the same name)");
      }
      // Size in bytes: whole blocks along shape[0], times the rows.
      if (t.shape[0] % traits->block_size != 0) {
        return Err(TensorDesc(name) + " of type " + traits->name +
                   " has shape " + t.ShapeString() + ": shape[0] = " +
                   Num(t.shape[0]) + " is not a multiple of the block size " +
                   Num(traits->block_size));
      }
      int64_t row_bytes = 0;
      int64_t nbytes = 0;
      bool overflow = __builtin_mul_overflow(t.shape[0] / traits->block_size,
                                             traits->type_size, &row_bytes);
      if (!overflow) {
        row_bytes = GgmlRowBytes(t.type, t.shape[0]);  // now known to fit
        overflow = __builtin_mul_overflow(row_bytes, n_elements / t.shape[0],
                                          &nbytes);
      }
      if (overflow) {
        return Err(TensorDesc(name) + ": the byte size of " + traits->name +
                   " shape " + t.ShapeString() + " overflows int64");
      }
      t.nbytes = static_cast<uint64_t>(nbytes);
      if (t.offset % f_->alignment_ != 0) {
        return Err(TensorDesc(name) + " has data offset " + Num(t.offset) +
                   ", which is not a multiple of the alignment " +
                   Num(f_->alignment_));
      }
      tensors.push_back(std::move(t));
    }
    return Status::Ok();
  }

  Status PlaceTensors() {
    const uint64_t a = f_->alignment_;
    uint64_t data_offset = 0;
    if (__builtin_add_overflow(pos_, a - 1, &data_offset)) {
      return Err("the data section offset overflows (alignment " + Num(a) + ")");
    }
    data_offset &= ~(a - 1);
    f_->data_offset_ = data_offset;
    if (f_->tensors_.empty()) return Status::Ok();
    if (data_offset > size_) {
      return Err("truncated file: the data section starts at offset " +
                 Num(data_offset) + " (end of the tensor infos at " +
                 Num(pos_) + " aligned to " + Num(a) +
                 "), past the end of the file (" + Num(size_) + " bytes)");
    }
    for (GgufTensorInfo& t : f_->tensors_) {
      uint64_t start = 0;
      uint64_t end = 0;
      if (__builtin_add_overflow(data_offset, t.offset, &start) ||
          __builtin_add_overflow(start, t.nbytes, &end) || end > size_) {
        return Err(TensorDesc(t.name) + " (" + GgmlTypeName(t.type) + " " +
                   t.ShapeString() + ", " + Num(t.nbytes) +
                   " bytes at data offset " + Num(t.offset) +
                   ") extends past the end of the file (" + Num(size_) +
                   " bytes, data section at " + Num(data_offset) +
                   "): truncated file or corrupt offset");
      }
      t.data = base_ + start;
    }
    return Status::Ok();
  }

  GgufFile* f_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
};

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return Status::Error(path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(path + ": not a regular file");
  }
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return Status::Error(path + ": cannot mmap " + std::to_string(f->size_) +
                           " bytes: " + std::strerror(e));
    }
    f->base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  GgufParser parser(f.get());
  SKV_RETURN_IF_ERROR(parser.Parse());
  return f;
}

GgufFile::~GgufFile() {
  if (base_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(base_), size_);
  }
}

}  // namespace skv
