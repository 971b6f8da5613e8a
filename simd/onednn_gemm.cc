#include "simd/onednn_gemm.h"

#include <dnnl.h>

#include <list>
#include <memory>
#include <mutex>
#include <utility>

#include "base/check.h"
#include "base/parallel.h"

namespace skv {
namespace {

// A bf16 matmul for one shape: the primitive and the descriptors its
// arguments are wrapped in at each execution. `primitive` is null where
// oneDNN has no implementation for the shape (remembered, so a refusal is
// not re-derived on every call).
struct BF16Plan {
  dnnl_primitive_t primitive = nullptr;
  dnnl_memory_desc_t src{}, wei{}, dst{};
  BF16Plan() = default;
  BF16Plan(const BF16Plan&) = delete;
  BF16Plan& operator=(const BF16Plan&) = delete;
  ~BF16Plan() {
    if (primitive != nullptr) dnnl_primitive_destroy(primitive);
  }
};

// A bounded memo of bf16 matmul primitives keyed by shape and thread count. Creating one
// means oneDNN picking an implementation (and JIT-compiling its kernels the
// first time); a prefill calls MatMul for every weight of every layer, so
// that cost would otherwise recur per call. It is only a cache: results
// never depend on what it holds. Past kCapacity shapes the least recently
// used is dropped; plans are shared_ptr-owned, so a dropped plan lives until
// the executions holding it finish. Thread-safe: lookups take the mutex,
// and oneDNN primitives may execute concurrently.
class BF16PlanCache {
 public:
  // A model has ~8 GEMM shapes per batch length (q, k, v, o, gate, up, down,
  // output; a last, narrower weight panel each); 64 covers a few lengths.
  static constexpr size_t kCapacity = 64;

  BF16PlanCache() {
    SKV_CHECK(dnnl_engine_create(&engine_, dnnl_cpu, 0) == dnnl_success);
  }

  dnnl_engine_t engine() const { return engine_; }

  std::shared_ptr<const BF16Plan> Get(const GemmBF16Shape& shape) {
    // oneDNN fixes a primitive's thread count when it is created, so the
    // count is part of the key: a plan made for one thread would otherwise
    // run single-threaded after SetThreads(2).
    const Key key{shape, MaxThreads()};
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == key) {
        lru_.splice(lru_.begin(), lru_, it);  // now the most recent
        return lru_.front().second;
      }
    }
    std::shared_ptr<const BF16Plan> plan = Create(shape);
    lru_.emplace_front(key, plan);
    if (lru_.size() > kCapacity) lru_.pop_back();
    return plan;
  }

 private:
  std::shared_ptr<const BF16Plan> Create(const GemmBF16Shape& s) const {
    auto plan = std::make_shared<BF16Plan>();
    const dnnl_dims_t src_dims = {s.T, s.K}, src_strides = {s.x_ld, 1};
    // Our weights are row-major [N][K]; oneDNN wants [K][N]: the same bytes
    // read with the strides swapped (format tag `ba`).
    const dnnl_dims_t wei_dims = {s.K, s.N}, wei_strides = {1, s.w_ld};
    const dnnl_dims_t dst_dims = {s.T, s.N}, dst_strides = {s.y_ld, 1};
    if (dnnl_memory_desc_init_by_strides(&plan->src, 2, src_dims, dnnl_bf16,
                                         src_strides) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&plan->wei, 2, wei_dims, dnnl_bf16,
                                         wei_strides) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&plan->dst, 2, dst_dims, dnnl_f32,
                                         dst_strides) != dnnl_success) {
      return plan;
    }
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &plan->src, &plan->wei, nullptr,
                              &plan->dst) != dnnl_success) {
      return plan;
    }
    // Fails (dnnl_unimplemented) where the CPU has no bf16 matmul.
    dnnl_primitive_desc_t pd = nullptr;
    if (dnnl_primitive_desc_create(&pd, &desc, nullptr, engine_, nullptr) !=
        dnnl_success) {
      return plan;
    }
    if (dnnl_primitive_create(&plan->primitive, pd) != dnnl_success) {
      plan->primitive = nullptr;
    }
    dnnl_primitive_desc_destroy(pd);
    return plan;
  }

  struct Key {
    GemmBF16Shape shape;
    int threads = 0;
    bool operator==(const Key&) const = default;
  };

  dnnl_engine_t engine_ = nullptr;
  std::mutex mu_;
  // Most recently used first; at most kCapacity entries.
  std::list<std::pair<Key, std::shared_ptr<const BF16Plan>>> lru_;
};

// The process's plan cache. Leaked on purpose: oneDNN objects destroyed from
// a static destructor at exit could outlive oneDNN's own globals.
BF16PlanCache& Plans() {
  static BF16PlanCache* cache = new BF16PlanCache;
  return *cache;
}

bool IsaHas(dnnl_cpu_isa_t isa) {
  const unsigned have = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  return (have & static_cast<unsigned>(isa)) == static_cast<unsigned>(isa);
}

}  // namespace

void GemmF32(const float* x, int64_t x_ld, int64_t T, const float* w,
             int64_t w_ld, int64_t N, int64_t K, float* y, int64_t y_ld) {
  // Row-major y = x * w^T is sgemm('N', 'T').
  const dnnl_status_t st =
      dnnl_sgemm('N', 'T', T, N, K, 1.0f, x, x_ld, w, w_ld, 0.0f, y, y_ld);
  SKV_CHECK(st == dnnl_success);
}

bool CanGemmBF16(const GemmBF16Shape& shape) {
  return Plans().Get(shape)->primitive != nullptr;
}

void GemmBF16(const GemmBF16Shape& shape, const uint16_t* x, const uint16_t* w,
              float* y) {
  BF16PlanCache& cache = Plans();
  const std::shared_ptr<const BF16Plan> plan = cache.Get(shape);
  SKV_CHECK(plan->primitive != nullptr);
  // Memory objects only wrap our pointers (no allocation of data); oneDNN
  // takes non-const handles but reads src and weights only.
  dnnl_memory_t src = nullptr, wei = nullptr, dst = nullptr;
  SKV_CHECK(dnnl_memory_create(&src, &plan->src, cache.engine(),
                               const_cast<uint16_t*>(x)) == dnnl_success);
  SKV_CHECK(dnnl_memory_create(&wei, &plan->wei, cache.engine(),
                               const_cast<uint16_t*>(w)) == dnnl_success);
  SKV_CHECK(dnnl_memory_create(&dst, &plan->dst, cache.engine(), y) ==
            dnnl_success);
  // A CPU stream is a lightweight handle; one per call keeps concurrent
  // callers independent.
  dnnl_stream_t stream = nullptr;
  SKV_CHECK(dnnl_stream_create(&stream, cache.engine(),
                               dnnl_stream_default_flags) == dnnl_success);
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src},
                                  {DNNL_ARG_WEIGHTS, wei},
                                  {DNNL_ARG_DST, dst}};
  SKV_CHECK(dnnl_primitive_execute(plan->primitive, stream, 3, args) ==
            dnnl_success);
  SKV_CHECK(dnnl_stream_wait(stream) == dnnl_success);
  dnnl_stream_destroy(stream);
  dnnl_memory_destroy(dst);
  dnnl_memory_destroy(wei);
  dnnl_memory_destroy(src);
}

bool HasNativeBF16() { return IsaHas(dnnl_cpu_isa_avx512_core_bf16); }

}  // namespace skv
