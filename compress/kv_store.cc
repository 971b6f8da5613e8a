#include "compress/kv_store.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "simd/quant.h"

namespace skv {

LayerKv::LayerKv(int64_t n_kv_heads, int64_t head_dim, int64_t head_dim_v)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim), head_dim_v_(head_dim_v) {}

void LayerKv::Reserve(int64_t slots) {
  if (slots <= capacity_) return;
  std::vector<uint16_t> k(n_kv_heads_ * slots * head_dim_);
  std::vector<uint16_t> v(n_kv_heads_ * slots * head_dim_v_);
  std::vector<int32_t> pos(n_kv_heads_ * slots);
  for (int64_t g = 0; g < n_kv_heads_ && length_ > 0; ++g) {
    std::memcpy(&k[g * slots * head_dim_], &k_[g * capacity_ * head_dim_],
                length_ * head_dim_ * sizeof(uint16_t));
    std::memcpy(&v[g * slots * head_dim_v_], &v_[g * capacity_ * head_dim_v_],
                length_ * head_dim_v_ * sizeof(uint16_t));
    std::memcpy(&pos[g * slots], &pos_[g * capacity_],
                length_ * sizeof(int32_t));
  }
  k_.swap(k);
  v_.swap(v);
  pos_.swap(pos);
  capacity_ = slots;
}

void LayerKv::Append(const float* k, const float* v, const int32_t* pos,
                     int64_t T) {
  if (length_ + T > capacity_) {
    Reserve(std::max(length_ + T, capacity_ * 2));
  }
  for (int64_t g = 0; g < n_kv_heads_; ++g) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t slot = g * capacity_ + length_ + t;
      F32ToF16(k + (t * n_kv_heads_ + g) * head_dim_, &k_[slot * head_dim_],
               head_dim_);
      F32ToF16(v + (t * n_kv_heads_ + g) * head_dim_v_,
               &v_[slot * head_dim_v_], head_dim_v_);
      pos_[slot] = pos[t];
    }
  }
  length_ += T;
}

void LayerKv::Compact(const std::vector<std::vector<int32_t>>& keep,
                      int64_t extra_slots) {
  SKV_CHECK(static_cast<int64_t>(keep.size()) == n_kv_heads_);
  const int64_t count = static_cast<int64_t>(keep[0].size());
  const int64_t slots = count + std::max<int64_t>(0, extra_slots);
  std::vector<uint16_t> k(n_kv_heads_ * slots * head_dim_);    // [G][slots][D]
  std::vector<uint16_t> v(n_kv_heads_ * slots * head_dim_v_);  // [G][slots][Dv]
  std::vector<int32_t> pos(n_kv_heads_ * slots);               // [G][slots]
  for (int64_t g = 0; g < n_kv_heads_; ++g) {
    SKV_CHECK(static_cast<int64_t>(keep[g].size()) == count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t src = keep[g][i];
      SKV_CHECK(src >= 0 && src < length_ && (i == 0 || src > keep[g][i - 1]));
      const int64_t from = g * capacity_ + src, to = g * slots + i;
      std::memcpy(&k[to * head_dim_], &k_[from * head_dim_], head_dim_ * sizeof(uint16_t));
      std::memcpy(&v[to * head_dim_v_], &v_[from * head_dim_v_],
                  head_dim_v_ * sizeof(uint16_t));
      pos[to] = pos_[from];
    }
  }
  k_.swap(k);  // the old buffers are freed when k, v, pos go out of scope
  v_.swap(v);
  pos_.swap(pos);
  capacity_ = slots;
  length_ = count;
}

KvView LayerKv::View() const {
  KvView view;
  view.k = k_.data();
  view.v = v_.data();
  view.pos = pos_.data();
  view.n = length_;
  view.head_stride = capacity_;
  return view;
}

int64_t LayerKv::bytes_per_entry() const {
  return n_kv_heads_ *
         ((head_dim_ + head_dim_v_) * static_cast<int64_t>(sizeof(uint16_t)) +
          static_cast<int64_t>(sizeof(int32_t)));
}

int64_t LayerKv::live_bytes() const { return length_ * bytes_per_entry(); }

int64_t LayerKv::reserved_bytes() const {
  return n_kv_heads_ * capacity_ *
         ((head_dim_ + head_dim_v_) * sizeof(uint16_t) + sizeof(int32_t));
}

KvStore::KvStore(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim,
                 int64_t head_dim_v) {
  SKV_CHECK(n_layers > 0 && n_kv_heads > 0 && head_dim > 0);
  layers_.reserve(n_layers);
  for (int64_t l = 0; l < n_layers; ++l) {
    layers_.emplace_back(n_kv_heads, head_dim, head_dim_v);
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
