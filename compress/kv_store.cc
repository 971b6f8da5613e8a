#include "compress/kv_store.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "simd/quant.h"

namespace skv {

LayerKv::LayerKv(int64_t n_kv_heads, int64_t head_dim, int64_t head_dim_v,
                 GgmlType type)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim), head_dim_v_(head_dim_v),
      type_(type), k_units_(KvRowUnits(type, head_dim)),
      v_units_(KvRowUnits(type, head_dim_v)) {
  SKV_CHECK(IsKvCacheType(type));
  SKV_CHECK(type != GgmlType::kQ8_0 || (head_dim % 32 == 0 && head_dim_v % 32 == 0));
}

LayerKv::LayerKv(const LayerKv& other)
    : n_kv_heads_(other.n_kv_heads_), head_dim_(other.head_dim_),
      head_dim_v_(other.head_dim_v_), type_(other.type_), k_units_(other.k_units_),
      v_units_(other.v_units_), capacity_(other.capacity_),
      length_(other.length_), blocks_(other.blocks_) {
  RebuildRefs();
}

LayerKv& LayerKv::operator=(const LayerKv& other) {
  if (this == &other) return *this;
  n_kv_heads_ = other.n_kv_heads_;
  head_dim_ = other.head_dim_;
  head_dim_v_ = other.head_dim_v_;
  type_ = other.type_;
  k_units_ = other.k_units_;
  v_units_ = other.v_units_;
  capacity_ = other.capacity_;
  length_ = other.length_;
  blocks_ = other.blocks_;
  RebuildRefs();
  return *this;
}

LayerKv::Block LayerKv::NewBlock() const {
  Block b;
  b.k.resize(n_kv_heads_ * kKvBlockSlots * k_units_);
  b.v.resize(n_kv_heads_ * kKvBlockSlots * v_units_);
  b.pos.resize(n_kv_heads_ * kKvBlockSlots);
  return b;
}

void LayerKv::RebuildRefs() {
  refs_.clear();
  for (const Block& b : blocks_) refs_.push_back({b.k.data(), b.v.data(), b.pos.data()});
}

void LayerKv::Reserve(int64_t slots) {
  if (slots <= capacity_) return;
  while (capacity_ < slots) {
    blocks_.push_back(NewBlock());
    capacity_ += kKvBlockSlots;
  }
  RebuildRefs();
}

void LayerKv::Append(const float* k, const float* v, const int32_t* pos,
                     int64_t T) {
  Reserve(length_ + T);
  for (int64_t t = 0; t < T; ++t) {
    Block& b = blocks_[(length_ + t) / kKvBlockSlots];
    const int64_t r = (length_ + t) % kKvBlockSlots;
    for (int64_t g = 0; g < n_kv_heads_; ++g) {
      const int64_t slot = g * kKvBlockSlots + r;
      StoreKvRow(type_, k + (t * n_kv_heads_ + g) * head_dim_, &b.k[slot * k_units_],
               head_dim_);
      StoreKvRow(type_, v + (t * n_kv_heads_ + g) * head_dim_v_, &b.v[slot * v_units_],
               head_dim_v_);
      b.pos[slot] = pos[t];
    }
  }
  length_ += T;
}

void LayerKv::Compact(const std::vector<std::vector<int32_t>>& keep,
                      int64_t extra_slots) {
  SKV_CHECK(static_cast<int64_t>(keep.size()) == n_kv_heads_);
  const int64_t count = static_cast<int64_t>(keep[0].size());
  const int64_t slots = count + std::max<int64_t>(0, extra_slots);
  std::vector<Block> kept((slots + kKvBlockSlots - 1) / kKvBlockSlots);
  for (Block& b : kept) b = NewBlock();
  for (int64_t g = 0; g < n_kv_heads_; ++g) {
    SKV_CHECK(static_cast<int64_t>(keep[g].size()) == count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t src = keep[g][i];
      SKV_CHECK(src >= 0 && src < length_ && (i == 0 || src > keep[g][i - 1]));
      const Block& from = blocks_[src / kKvBlockSlots];
      Block& to = kept[i / kKvBlockSlots];
      const int64_t fs = g * kKvBlockSlots + src % kKvBlockSlots;
      const int64_t ts = g * kKvBlockSlots + i % kKvBlockSlots;
      std::memcpy(&to.k[ts * k_units_], &from.k[fs * k_units_],
                  k_units_ * sizeof(uint16_t));
      std::memcpy(&to.v[ts * v_units_], &from.v[fs * v_units_],
                  v_units_ * sizeof(uint16_t));
      to.pos[ts] = from.pos[fs];
    }
  }
  blocks_.swap(kept);  // the old blocks are freed with `kept`
  capacity_ = static_cast<int64_t>(blocks_.size()) * kKvBlockSlots;
  length_ = count;
  RebuildRefs();
}

int64_t LayerKv::DropLeadingBlocks(int32_t keep_from) {
  int64_t n = 0;
  for (; (n + 1) * kKvBlockSlots <= length_; ++n) {
    const Block& b = blocks_[n];
    bool dead = true;
    for (int64_t g = 0; g < n_kv_heads_ && dead; ++g) {
      dead = b.pos[g * kKvBlockSlots + kKvBlockSlots - 1] < keep_from;  // the head's last
    }
    if (!dead) break;
  }
  if (n == 0) return 0;
  std::rotate(blocks_.begin(), blocks_.begin() + n, blocks_.end());
  length_ -= n * kKvBlockSlots;
  RebuildRefs();
  return n;
}

void LayerKv::ExportHead(int64_t g, uint16_t* k, uint16_t* v, int32_t* pos) const {
  SKV_CHECK(g >= 0 && g < n_kv_heads_);
  for (int64_t j = 0; j < length_; ++j) {
    const Block& b = blocks_[j / kKvBlockSlots];
    const int64_t slot = g * kKvBlockSlots + j % kKvBlockSlots;
    std::memcpy(k + j * k_units_, &b.k[slot * k_units_], k_units_ * sizeof(uint16_t));
    std::memcpy(v + j * v_units_, &b.v[slot * v_units_], v_units_ * sizeof(uint16_t));
    pos[j] = b.pos[slot];
  }
}

void LayerKv::ImportEntries(int64_t n, const uint16_t* k, const uint16_t* v,
                            const int32_t* pos, int64_t extra_slots) {
  SKV_CHECK(n >= 0);
  const int64_t slots = n + std::max<int64_t>(0, extra_slots);
  std::vector<Block> fresh((slots + kKvBlockSlots - 1) / kKvBlockSlots);
  for (Block& b : fresh) b = NewBlock();
  for (int64_t g = 0; g < n_kv_heads_; ++g) {
    for (int64_t j = 0; j < n; ++j) {
      Block& b = fresh[j / kKvBlockSlots];
      const int64_t slot = g * kKvBlockSlots + j % kKvBlockSlots;
      const int64_t row = g * n + j;
      std::memcpy(&b.k[slot * k_units_], k + row * k_units_, k_units_ * sizeof(uint16_t));
      std::memcpy(&b.v[slot * v_units_], v + row * v_units_, v_units_ * sizeof(uint16_t));
      b.pos[slot] = pos[row];
    }
  }
  blocks_.swap(fresh);
  capacity_ = static_cast<int64_t>(blocks_.size()) * kKvBlockSlots;
  length_ = n;
  RebuildRefs();
}

KvView LayerKv::View() const {
  KvView view;
  view.n = length_;
  view.head_stride = capacity_;
  view.blocks = refs_.data();
  view.block_slots = kKvBlockSlots;
  view.type = type_;
  return view;
}

std::vector<int32_t> LayerKv::Positions(int64_t g) const {
  std::vector<int32_t> out(length_);  // [length]
  for (int64_t j = 0; j < length_; ++j) {
    out[j] = blocks_[j / kKvBlockSlots].pos[g * kKvBlockSlots + j % kKvBlockSlots];
  }
  return out;
}

int64_t LayerKv::bytes_per_entry() const {
  return n_kv_heads_ *
         ((k_units_ + v_units_) * static_cast<int64_t>(sizeof(uint16_t)) +
          static_cast<int64_t>(sizeof(int32_t)));
}

int64_t LayerKv::live_bytes() const { return length_ * bytes_per_entry(); }

int64_t LayerKv::reserved_bytes() const {
  return capacity_ * bytes_per_entry();
}

KvStore::KvStore(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim,
                 int64_t head_dim_v, GgmlType type) {
  SKV_CHECK(n_layers > 0 && n_kv_heads > 0 && head_dim > 0);
  layers_.reserve(n_layers);
  for (int64_t l = 0; l < n_layers; ++l) {
    layers_.emplace_back(n_kv_heads, head_dim, head_dim_v, type);
  }
}

void KvStore::Reserve(int64_t slots) {
  for (auto& l : layers_) l.Reserve(slots);
}

void KvStore::Clear() {
  for (auto& l : layers_) l.Clear();
}

int64_t KvStore::live_bytes() const {
  int64_t b = 0;
  for (const auto& l : layers_) b += l.live_bytes();
  return b;
}

int64_t KvStore::reserved_bytes() const {
  int64_t b = 0;
  for (const auto& l : layers_) b += l.reserved_bytes();
  return b;
}

}  // namespace skv
