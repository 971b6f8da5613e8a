#include "simd/matmul.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/onednn_gemm.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"
#include "simd/quant_gemm.h"

namespace skv {
namespace {

// Batches up to this size run as GEMVs on the quantised rows: at these sizes
// the product is bound by reading the weights, which GEMV does once per row.
constexpr int64_t kGemvMaxBatch = 2;
// Target size of a dequantised weight panel (1 MiB: 2^18 f32 or 2^19 bf16
// values): large enough to amortise oneDNN's call overhead, small enough to
// stay in L2/L3 while the GEMM consumes it.
constexpr int64_t kPanelBytes = 1 << 20;

// Target size of one thread's f32 panel in the f32 prefill GEMM (2 MiB: one
// core's L2 on current Xeons, where the dequantised rows wait for sgemm).
constexpr int64_t kThreadPanelBytes = 2 << 20;

// Rows per weight panel for elements of `elem_bytes` bytes.
int64_t PanelRows(const MatrixRef& w, int64_t elem_bytes,
                  int64_t panel_bytes = kPanelBytes) {
  return std::clamp<int64_t>(panel_bytes / (elem_bytes * w.cols), 16, w.rows);
}

// Walks W in panels of `panel_rows` rows: dequantises each panel into
// `panel` ([panel_rows][cols] of Elem) with `dequant_row(src_row, dst, cols)`
// on all threads, then calls `multiply(panel, r0, n)` for its n rows starting
// at row r0. The bf16 prefill GEMM's panel walk.
template <typename Elem, typename DequantRow, typename Multiply>
void ForEachDequantizedPanel(const MatrixRef& w, int64_t panel_rows,
                             const DequantRow& dequant_row,
                             const Multiply& multiply) {
  std::vector<Elem> panel(panel_rows * w.cols);  // [panel_rows][cols]
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = 0; r0 < w.rows; r0 += panel_rows) {
    const int64_t n = std::min(panel_rows, w.rows - r0);
    ParallelRanges(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        dequant_row(base + (r0 + r) * w.row_bytes, panel.data() + r * w.cols,
                    w.cols);
      }
    });
    multiply(panel.data(), r0, n);
  }
}

// Decode GEMV with integer dot products: x is quantised to the weights'
// 8-bit activation type (the values RoundActivations produces) and each row
// is multiplied in int32 lanes, as llama.cpp does. Returns false (nothing
// written) where there is no integer kernel for the type or x is not finite
// (the float path then propagates nan/inf).
bool IntegerGemv(const MatrixRef& w, const float* x, int64_t x_stride,
                 int64_t T, float* y, int64_t y_stride) {
  if (!HasIntegerDot(w.type)) return false;
  // Reused across calls: one decode step makes a few hundred of these.
  thread_local std::vector<QuantizedActivations> xq;  // [T]
  if (static_cast<int64_t>(xq.size()) < T) xq.resize(T);
  for (int64_t t = 0; t < T; ++t) {
    QuantizeActivations(w.type, x + t * x_stride, w.cols, &xq[t]);
    if (!xq[t].finite) return false;
  }
  for (int64_t t = 0; t < T; ++t) {
    MatVecQ8(w.type, w.data, w.row_bytes, xq[t], y + t * y_stride, w.rows);
  }
  return true;
}

// int8 prefill: quantises every token's activations to the weights' 8-bit
// activation type and runs the integer GEMM (quant_gemm.h), which computes
// each output as the decode GEMV does, bit for bit. Returns false (nothing
// written) where the type has no integer kernel or x is not finite (the
// float path then propagates nan/inf).
bool IntegerGemm(const MatrixRef& w, const float* x, int64_t x_stride,
                 int64_t T, float* y, int64_t y_stride) {
  if (!HasIntegerGemm(w.type)) return false;
  // Per call, not thread_local: a prefill batch of T tokens holds about
  // 5 * T * cols bytes, which should not stay allocated after it.
  std::vector<QuantizedActivations> xq(T);  // [T]
  std::vector<char> finite(T);              // [T] 0 where x[t] has nan/inf
  ParallelFor(T, [&](int64_t t) {
    QuantizeActivations(w.type, x + t * x_stride, w.cols, &xq[t]);
    finite[t] = xq[t].finite;
  });
  for (int64_t t = 0; t < T; ++t) {
    if (!finite[t]) return false;
  }
  MatMulQ8(w.type, w.data, w.row_bytes, xq.data(), T, y, y_stride, w.rows);
  return true;
}

// f32 prefill: dequantises row panels of W into f32 and multiplies them with
// oneDNN's sgemm, one panel per thread at a time. x holds the already
// rounded activations.
void DequantizedGemmF32(const MatrixRef& w, const float* x, int64_t x_stride,
                        int64_t T, float* y, int64_t y_stride) {
  if (w.type == GgmlType::kF32) {
    GemmF32(x, x_stride, T, static_cast<const float*>(w.data),
            w.row_bytes / static_cast<int64_t>(sizeof(float)), w.rows, w.cols,
            y, y_stride);
    return;
  }
  // Each thread takes whole panels: it dequantises one into its own buffer
  // (hot in its L2) and multiplies it with a single-threaded sgemm (oneDNN
  // runs on the calling thread inside a parallel region). No barrier
  // between dequantising and multiplying.
  // Measured on a 2-core AVX-512 Xeon (skv_kernel_bench PrefillMatMul f16 and
  // q6_K, f32): 220 -> 250 GFLOP/s and 195 -> 225 against all threads
  // dequantising each panel and then multiplying it together.
  // The panel shape depends on the matrix only, never on the thread count:
  // sgemm's blocking (and so its summation order) follows the shape it is
  // given, so every output column comes from the same call, with the same
  // bits, at any thread count. A quarter of the rows (at most the 2 MiB
  // panel) keeps up to four threads busy on small matrices.
  const int64_t quarter = (w.rows + 3) / 4;
  const int64_t panel_rows =
      std::min(PanelRows(w, sizeof(float), kThreadPanelBytes), std::max<int64_t>(16, quarter));
  const int64_t panels = (w.rows + panel_rows - 1) / panel_rows;
  const auto* base = static_cast<const uint8_t*>(w.data);
  ParallelForDynamic(panels, [&](int64_t p) {
    thread_local std::vector<float> panel;  // [panel_rows][cols], ~2 MiB per thread
    const int64_t r0 = p * panel_rows, n = std::min(panel_rows, w.rows - r0);
    if (static_cast<int64_t>(panel.size()) < n * w.cols) panel.resize(n * w.cols);
    for (int64_t r = 0; r < n; ++r) {
      DequantizeRow(w.type, base + (r0 + r) * w.row_bytes, panel.data() + r * w.cols, w.cols);
    }
    GemmF32(x, x_stride, T, panel.data(), w.cols, n, w.cols, y + r0, y_stride);
  });
}

// bf16 prefill: rounds the activations as ggml does (RoundActivations) and
// then to bf16 once, dequantises row panels of W straight into bf16 (BF16
// weights are used in place) and multiplies with oneDNN's matmul primitive,
// accumulating in f32. Returns false, with nothing written, where oneDNN has
// no bf16 matmul for the shapes this call needs.
bool DequantizedGemmBF16(const MatrixRef& w, const float* x, int64_t x_stride,
                         int64_t T, float* y, int64_t y_stride) {
  const int64_t K = w.cols;
  const bool in_place =
      w.type == GgmlType::kBF16 && w.row_bytes % sizeof(uint16_t) == 0;
  const int64_t panel_rows = in_place ? w.rows : PanelRows(w, sizeof(uint16_t));
  const GemmBF16Shape full{T, panel_rows, K, K,
                           in_place ? w.row_bytes / 2 : K, y_stride};
  GemmBF16Shape last = full;  // the narrower panel at the end, if any
  last.N = w.rows % panel_rows;
  if (!CanGemmBF16(full) || (last.N != 0 && !CanGemmBF16(last))) return false;
  // Resolve the dispatch target before the threads start, so they never
  // race on Highway's lazy initialisation.
  (void)ActiveSimdTarget();

  std::vector<uint16_t> xb(T * K);  // [T][K] activations, bf16 bits
  {
    std::vector<float> xr(T * K);  // [T][K] rounded as ggml rounds them
    ParallelFor(T, [&](int64_t t) {
      RoundActivations(w.type, x + t * x_stride, xr.data() + t * K, K);
      F32ToBF16(xr.data() + t * K, xb.data() + t * K, K);
    });
  }
  if (in_place) {
    GemmBF16(full, xb.data(), static_cast<const uint16_t*>(w.data), y);
    return true;
  }
  ForEachDequantizedPanel<uint16_t>(  // panels of bf16 bits
      w, panel_rows,
      [&](const uint8_t* src, uint16_t* dst, int64_t n) {
        DequantizeRowBF16(w.type, src, dst, n);
      },
      [&](const uint16_t* panel, int64_t r0, int64_t n) {
        GemmBF16(n == panel_rows ? full : last, xb.data(), panel, y + r0);
      });
  return true;
}

GemmType ChoosePrefillGemm() {
  StatusOr<std::optional<GemmType>> env = GemmTypeFromEnv();
  if (!env.ok()) {
    std::fprintf(stderr, "structkv: %s (ignored)\n",
                 env.status().message().c_str());
    return GemmType::kF32;
  }
  if (env->has_value() && **env == GemmType::kInt8) return GemmType::kInt8;
  if (env->has_value() && **env == GemmType::kF32) return GemmType::kF32;
  if (env->has_value() && **env == GemmType::kBF16) {
    if (HasNativeBF16()) return GemmType::kBF16;
    // oneDNN would emulate bf16 on plain AVX-512: slower than f32 and less
    // accurate, so the request buys nothing.
    std::fprintf(stderr,
                 "structkv: %s=bf16: this CPU has no native bf16 dot "
                 "products; using f32\n",
                 kGemmEnv);
    return GemmType::kF32;
  }
  // The default: int8 on every target, so that every CPU computes the same
  // bits (quant_dot.h, "one arithmetic"); where panel kernels run (AVX2 and
  // better) it is also faster than dequantise + sgemm (docs/benchmarks.md).
  return GemmType::kInt8;
}

// For Q4_1 / Q5_1 weights: y += m * (s - f16(d) * sum(q)) summed over each
// row's blocks, so that the float path's min term equals ggml's m * s
// (Q8_1BlockSumDeltas). x: [T][cols] unrounded activations (row stride
// x_stride), y: [T][rows] (row stride y_stride). The deltas are small, so
// the product runs as one small f32 GEMM, [T][blocks] x [blocks][rows].
void AddQ8_1BlockSumTerm(const MatrixRef& w, const float* x, int64_t x_stride,
                         int64_t T, float* y, int64_t y_stride) {
  const int64_t nb = w.cols / 32;
  std::vector<float> delta(T * nb);  // [T][nb]
  ParallelFor(T, [&](int64_t t) {
    Q8_1BlockSumDeltas(x + t * x_stride, w.cols, delta.data() + t * nb);
  });
  // Each block's m: an f16 at byte 2 of every Q4_1 / Q5_1 block.
  const int64_t block_bytes = w.row_bytes / nb;
  const auto* base = static_cast<const uint8_t*>(w.data);
  auto block_m = [&](int64_t r, int64_t b) {
    uint16_t bits;
    std::memcpy(&bits, base + r * w.row_bytes + b * block_bytes + 2, sizeof(bits));
    return F16BitsToF32(bits);
  };
  if (T <= kGemvMaxBatch) {
    // Decode: read the m's where they lie (the GEMV has just streamed these
    // rows), nothing materialised per call.
    ParallelRanges(w.rows, 256, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t t = 0; t < T; ++t) {
          float acc = 0.f;
          for (int64_t b = 0; b < nb; ++b) acc += block_m(r, b) * delta[t * nb + b];
          y[t * y_stride + r] += acc;
        }
      }
    });
    return;
  }
  std::vector<float> m(w.rows * nb);  // [rows][nb]
  ParallelRanges(w.rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t b = 0; b < nb; ++b) m[r * nb + b] = block_m(r, b);
    }
  });
  std::vector<float> term(T * w.rows);  // [T][rows]
  GemmF32(delta.data(), nb, T, m.data(), nb, w.rows, nb, term.data(), w.rows);
  ParallelFor(T, [&](int64_t t) {
    for (int64_t r = 0; r < w.rows; ++r) y[t * y_stride + r] += term[t * w.rows + r];
  });
}

}  // namespace

GemmType PrefillGemm() {
  static const GemmType chosen = ChoosePrefillGemm();
  return chosen;
}

void MatMul(const MatrixRef& w, const float* x, int64_t x_stride, int64_t T,
            float* y, int64_t y_stride) {
  MatMul(w, x, x_stride, T, y, y_stride, PrefillGemm());
}

void MatMul(const MatrixRef& w, const float* x, int64_t x_stride, int64_t T,
            float* y, int64_t y_stride, GemmType gemm) {
  SKV_CHECK(w.data != nullptr && w.rows > 0 && w.cols > 0);
  if (T <= 0) return;
  if (T <= kGemvMaxBatch && IntegerGemv(w, x, x_stride, T, y, y_stride)) return;
  if (T > kGemvMaxBatch && gemm == GemmType::kInt8 &&
      IntegerGemm(w, x, x_stride, T, y, y_stride)) {
    return;
  }
  if (T > kGemvMaxBatch && gemm == GemmType::kBF16 &&
      w.type != GgmlType::kF32 &&
      DequantizedGemmBF16(w, x, x_stride, T, y, y_stride)) {
    return;
  }
  // Round the activations to the weights' dot-product type first, exactly as
  // llama.cpp does (see activation_round.h).
  const float* x_unrounded = x;
  const int64_t x_unrounded_stride = x_stride;
  std::vector<float> xr;  // [T][cols]
  if (ActivationType(w.type) != GgmlType::kF32) {
    xr.resize(T * w.cols);
    ParallelFor(T, [&](int64_t t) {
      RoundActivations(w.type, x + t * x_stride, xr.data() + t * w.cols, w.cols);
    });
    x = xr.data();
    x_stride = w.cols;
  }
  if (T <= kGemvMaxBatch) {
    for (int64_t t = 0; t < T; ++t) {
      MatVec(w.type, w.data, w.row_bytes, x + t * x_stride, w.cols,
             y + t * y_stride, w.rows);
    }
  } else {
    DequantizedGemmF32(w, x, x_stride, T, y, y_stride);
  }
  if (ActivationType(w.type) == GgmlType::kQ8_1) {
    AddQ8_1BlockSumTerm(w, x_unrounded, x_unrounded_stride, T, y, y_stride);
  }
}

}  // namespace skv
