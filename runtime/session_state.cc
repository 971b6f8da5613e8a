#include "runtime/session_state.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "base/check.h"
#include "simd/ggml_types.h"

namespace skv {
namespace {

constexpr char kMagic[8] = {'S', 'K', 'V', 'S', 'T', 'A', 'T', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

// 64-bit FNV-1a: the model fingerprint (a few KiB of input).
struct Fnv64 {
  uint64_t h = 1469598103934665603ull;
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void Add(const std::string& s) { Add(s.data(), s.size() + 1); }  // with the NUL
  template <typename T>
  void AddValue(T v) { Add(&v, sizeof(v)); }
};

// A fast word-wise checksum of a layer's payload (tens to hundreds of MiB):
// detects truncation, bit rot and overwritten regions, not an adversary.
class Checksum {
 public:
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      Mix(w);
    }
    uint64_t tail = 0;
    if (i < n) std::memcpy(&tail, p + i, n - i);
    Mix(tail ^ (static_cast<uint64_t>(n - i) << 56));
    Mix(static_cast<uint64_t>(n));
  }
  uint64_t value() const { return h_; }

 private:
  void Mix(uint64_t w) {
    h_ ^= w + 0x9E3779B97F4A7C15ull + (h_ << 6) + (h_ >> 2);
    h_ *= 0xBF58476D1CE4E5B9ull;
    h_ ^= h_ >> 31;
  }
  uint64_t h_ = 0x243F6A8885A308D3ull;
};

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Sizes of one layer's payload per KV head and entry.
struct LayerShape {
  int64_t heads, k_units, v_units;
  int64_t BytesFor(int64_t n) const {
    return heads * n * ((k_units + v_units) * 2 + 4);
  }
};

class Writer {
 public:
  explicit Writer(const std::string& path) : path_(path), out_(path, std::ios::binary) {}
  bool ok() const { return static_cast<bool>(out_); }
  void Write(const void* data, size_t n) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  }
  template <typename T>
  void WriteValue(T v) { Write(&v, sizeof(v)); }
  Status Close() {
    out_.flush();
    const bool good = static_cast<bool>(out_);
    out_.close();
    if (!good || !out_) {
      return Status::Error(path_ + ": write failed (disk full or not writable?)");
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  std::ofstream out_;
};

class Reader {
 public:
  Reader(const std::string& path, std::ifstream& in, int64_t size)
      : path_(path), in_(in), left_(size) {}
  Status Read(void* data, int64_t n, const std::string& what) {
    if (n < 0 || n > left_) {
      return Status::Error(path_ + ": truncated state file: " + what + " needs " +
                           std::to_string(n) + " bytes, " + std::to_string(left_) + " left");
    }
    in_.read(static_cast<char*>(data), n);
    if (!in_) return Status::Error(path_ + ": read error in " + what);
    left_ -= n;
    return Status::Ok();
  }
  template <typename T>
  StatusOr<T> ReadValue(const std::string& what) {
    T v;
    SKV_RETURN_IF_ERROR(Read(&v, sizeof(v), what));
    return v;
  }
  int64_t left() const { return left_; }

 private:
  const std::string& path_;
  std::ifstream& in_;
  int64_t left_;
};

}  // namespace

nlohmann::json ModelIdentity(const Model& model) {
  const ModelConfig& c = model.config();
  Fnv64 fp;
  for (const GgufTensorInfo& t : model.file().tensors()) {
    fp.Add(t.name);
    fp.AddValue(static_cast<int32_t>(t.type));
    for (int64_t d : t.shape) fp.AddValue(d);
    fp.AddValue(t.offset);
    // A few bytes of every tensor's data: files with the same tables but
    // other weights (re-quantised, re-generated) differ here.
    fp.Add(t.data, std::min<uint64_t>(t.nbytes, 64));
  }
  nlohmann::json id;
  id["architecture"] = c.architecture;
  id["name"] = c.name;
  id["file_size"] = model.file().file_size();
  id["n_layers"] = c.n_layers;
  id["n_kv_heads"] = c.n_kv_heads;
  id["head_dim"] = c.head_dim;
  id["head_dim_v"] = c.head_dim_v;
  id["n_vocab"] = c.n_vocab;
  id["fingerprint"] = Hex(fp.h);
  return id;
}

Status SaveSessionState(const Session& session, const std::string& path,
                        const nlohmann::json& info) {
  const KvStore& kv = session.kv();
  const Model& model = session.model();
  nlohmann::json header;
  header["format"] = "structkv-session-state";
  header["version"] = kVersion;
  header["model"] = ModelIdentity(model);
  header["model_path"] = model.file().path();
  header["kv_type"] = GgmlTypeName(kv.layer(0).type());
  header["n_layers"] = kv.n_layers();
  header["n_past"] = session.n_past();
  header["info"] = info;
  const std::string text = header.dump();

  // Written beside the destination, then renamed over it: never a partial
  // file under the final name.
  const std::string tmp = path + ".tmp";
  {
    Writer w(tmp);
    if (!w.ok()) return Status::Error(path + ": cannot open " + tmp + " for writing");
    w.Write(kMagic, sizeof(kMagic));
    w.WriteValue(kVersion);
    w.WriteValue(static_cast<uint64_t>(text.size()));
    w.Write(text.data(), text.size());
    std::vector<uint16_t> k, v;  // [heads][n][units]
    std::vector<int32_t> pos;    // [heads][n]
    for (int64_t l = 0; l < kv.n_layers(); ++l) {
      const LayerKv& layer = kv.layer(l);
      const int64_t n = layer.length(), G = layer.n_kv_heads();
      k.resize(G * n * layer.k_units());
      v.resize(G * n * layer.v_units());
      pos.resize(G * n);
      for (int64_t g = 0; g < G; ++g) {
        layer.ExportHead(g, k.data() + g * n * layer.k_units(),
                         v.data() + g * n * layer.v_units(), pos.data() + g * n);
      }
      Checksum sum;
      sum.Add(k.data(), k.size() * 2);
      sum.Add(v.data(), v.size() * 2);
      sum.Add(pos.data(), pos.size() * 4);
      w.WriteValue(static_cast<uint64_t>(n));
      w.Write(k.data(), k.size() * 2);
      w.Write(v.data(), v.size() * 2);
      w.Write(pos.data(), pos.size() * 4);
      w.WriteValue(sum.value());
    }
    const Status closed = w.Close();
    if (!closed.ok()) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return closed;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Status::Error(path + ": cannot move the saved state into place: " + ec.message());
  }
  return Status::Ok();
}

StatusOr<LoadedState> LoadSessionState(const Model& model, SessionOptions options,
                                       const std::string& path, int64_t extra_tokens) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::Error(path + ": cannot read the state file: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open the state file");
  Reader r(path, in, static_cast<int64_t>(size));
  char magic[sizeof(kMagic)];
  SKV_RETURN_IF_ERROR(r.Read(magic, sizeof(magic), "magic"));
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return Status::Error(path + ": not a StructKV state file (wrong magic)");
  }
  SKV_ASSIGN_OR_RETURN(const uint32_t version, r.ReadValue<uint32_t>("version"));
  if (version != kVersion) {
    return Status::Error(path + ": state file version " + std::to_string(version) +
                         " is not supported (this build reads version " +
                         std::to_string(kVersion) + ")");
  }
  SKV_ASSIGN_OR_RETURN(const uint64_t header_bytes, r.ReadValue<uint64_t>("header size"));
  if (header_bytes > kMaxHeaderBytes) {
    return Status::Error(path + ": header size " + std::to_string(header_bytes) +
                         " is absurd (corrupt file?)");
  }
  std::string text(header_bytes, '\0');
  SKV_RETURN_IF_ERROR(r.Read(text.data(), static_cast<int64_t>(header_bytes), "header"));
  nlohmann::json header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Status::Error(path + ": the header is not valid JSON (corrupt file?)");
  }
  const nlohmann::json want = ModelIdentity(model);
  if (!header.contains("model") || header["model"] != want) {
    return Status::Error(path + ": the state was saved with another model (" +
                         (header.contains("model") ? header["model"].dump() : "none") +
                         "), not " + model.file().path() + " (" + want.dump() + ")");
  }
  const ModelConfig& c = model.config();
  GgmlType type = GgmlType::kF16;
  bool known = false;
  for (const GgmlType t : {GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0}) {
    if (header.value("kv_type", "") == GgmlTypeName(t)) type = t, known = true;
  }
  if (!known) return Status::Error(path + ": unknown cache type in the header");
  const int64_t n_past = header.value("n_past", int64_t{-1});
  // Positions are int32 in the cache.
  if (header.value("n_layers", int64_t{-1}) != c.n_layers || n_past < 0 ||
      n_past >= (int64_t{1} << 31) - std::max<int64_t>(extra_tokens, 1)) {
    return Status::Error(path + ": layer count or position in the header do not fit the model");
  }
  // Created (and validated) with a one-token context so that nothing is
  // reserved for the whole sequence: the layers get exactly what the file
  // holds plus room for `extra_tokens`.
  options.kv_type = type;
  options.n_ctx = 1;
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(model, options));
  session.options_.n_ctx = n_past + std::max<int64_t>(extra_tokens, 1);
  std::vector<uint16_t> k, v;
  std::vector<int32_t> pos;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string where = "layer " + std::to_string(l);
    LayerKv& layer = session.kv_.layer(l);
    const LayerShape shape{layer.n_kv_heads(), layer.k_units(), layer.v_units()};
    SKV_ASSIGN_OR_RETURN(const uint64_t n, r.ReadValue<uint64_t>(where + " length"));
    // Checked before allocating: a corrupt count cannot ask for more than
    // the file holds, nor for more entries than positions seen.
    if (n > static_cast<uint64_t>(n_past) || shape.BytesFor(static_cast<int64_t>(n)) + 8 > r.left()) {
      return Status::Error(path + ": " + where + " claims " + std::to_string(n) +
                           " entries, more than the file holds or than the " +
                           std::to_string(n_past) + " positions seen (corrupt or truncated file)");
    }
    const int64_t N = static_cast<int64_t>(n), G = shape.heads;
    k.resize(G * N * shape.k_units);
    v.resize(G * N * shape.v_units);
    pos.resize(G * N);
    SKV_RETURN_IF_ERROR(r.Read(k.data(), static_cast<int64_t>(k.size()) * 2, where + " keys"));
    SKV_RETURN_IF_ERROR(r.Read(v.data(), static_cast<int64_t>(v.size()) * 2, where + " values"));
    SKV_RETURN_IF_ERROR(r.Read(pos.data(), static_cast<int64_t>(pos.size()) * 4, where + " positions"));
    SKV_ASSIGN_OR_RETURN(const uint64_t stored, r.ReadValue<uint64_t>(where + " checksum"));
    Checksum sum;
    sum.Add(k.data(), k.size() * 2);
    sum.Add(v.data(), v.size() * 2);
    sum.Add(pos.data(), pos.size() * 4);
    if (sum.value() != stored) {
      return Status::Error(path + ": " + where + " is corrupt (checksum mismatch)");
    }
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t j = 0; j < N; ++j) {
        const int32_t p = pos[g * N + j];
        if (p < 0 || p >= n_past || (j > 0 && p <= pos[g * N + j - 1])) {
          return Status::Error(path + ": " + where + " holds an invalid position " +
                               std::to_string(p) + " (corrupt file?)");
        }
      }
    }
    layer.ImportEntries(N, k.data(), v.data(), pos.data(), session.options_.n_ctx - n_past);
  }
  if (r.left() != 0) {
    return Status::Error(path + ": " + std::to_string(r.left()) +
                         " unexpected bytes after the last layer (corrupt file?)");
  }
  session.n_past_ = n_past;
  LoadedState loaded{std::move(session), header.value("info", nlohmann::json::object()),
                     static_cast<int64_t>(size)};
  return loaded;
}

}  // namespace skv
