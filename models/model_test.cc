// Model loading from a tiny in-memory llama GGUF: the errors for missing
// tensors, wrong shapes and types name the file and tensor, and a valid file
// runs through the forward pass with finite logits.
#include "models/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "compress/kv_store.h"
#include "models/gguf_test_util.h"
#include "models/transformer.h"

namespace skv {
namespace {

using gguf_test::GgufWriter;

constexpr int kEmbd = 32, kHeads = 4, kKvHeads = 2, kFf = 64, kVocab = 8;

std::string F32Bytes(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return std::string(reinterpret_cast<const char*>(v.data()), n * sizeof(float));
}

struct TinyLlama {
  // Tensor names to leave out, and overrides of a tensor's [cols, rows].
  std::vector<std::string> skip;
  std::string reshape;
  uint32_t matrix_type = static_cast<uint32_t>(GgmlType::kF32);

  std::string Write(const std::string& name) const {
    GgufWriter w;
    w.AddString("general.architecture", "llama");
    w.AddScalar("llama.block_count", GgufValueType::kUint32, uint32_t{1});
    w.AddScalar("llama.embedding_length", GgufValueType::kUint32, uint32_t{kEmbd});
    w.AddScalar("llama.feed_forward_length", GgufValueType::kUint32, uint32_t{kFf});
    w.AddScalar("llama.attention.head_count", GgufValueType::kUint32, uint32_t{kHeads});
    w.AddScalar("llama.attention.head_count_kv", GgufValueType::kUint32, uint32_t{kKvHeads});
    w.AddString("tokenizer.ggml.model", "llama");
    w.AddStringArray("tokenizer.ggml.tokens",
                     {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "\xe2\x96\x81" "b", "a", "b", "c"});
    w.AddArray("tokenizer.ggml.scores", GgufValueType::kFloat32,
               std::vector<float>{0, 0, 0, -1, -2, -3, -4, -5});
    w.AddArray("tokenizer.ggml.token_type", GgufValueType::kInt32,
               std::vector<int32_t>{2, 3, 3, 1, 1, 1, 1, 1});
    uint32_t seed = 1;
    auto add = [&](const std::string& t, uint64_t cols, uint64_t rows, bool matrix) {
      for (const auto& s : skip) if (s == t) return;
      if (t == reshape) rows += 1;
      const uint32_t type = matrix ? matrix_type : static_cast<uint32_t>(GgmlType::kF32);
      const size_t n = cols * rows;
      std::vector<uint64_t> shape = rows == 1 ? std::vector<uint64_t>{cols}
                                               : std::vector<uint64_t>{cols, rows};
      w.AddTensor(t, shape, type,
                  matrix ? F32Bytes(n, seed++, 0.3f) : F32Bytes(n, seed++, 0.1f));
    };
    add("token_embd.weight", kEmbd, kVocab, true);
    add("output_norm.weight", kEmbd, 1, false);
    add("output.weight", kEmbd, kVocab, true);
    add("blk.0.attn_norm.weight", kEmbd, 1, false);
    add("blk.0.attn_q.weight", kEmbd, kEmbd, true);
    add("blk.0.attn_k.weight", kEmbd, kEmbd / kHeads * kKvHeads, true);
    add("blk.0.attn_v.weight", kEmbd, kEmbd / kHeads * kKvHeads, true);
    add("blk.0.attn_output.weight", kEmbd, kEmbd, true);
    add("blk.0.ffn_norm.weight", kEmbd, 1, false);
    add("blk.0.ffn_gate.weight", kEmbd, kFf, true);
    add("blk.0.ffn_up.weight", kEmbd, kFf, true);
    add("blk.0.ffn_down.weight", kFf, kEmbd, true);
    const std::string path = gguf_test::MakeTempDir("skv_model") + "/" + name;
    gguf_test::WriteFile(path, w.Build());
    return path;
  }
};

TEST(ModelLoad, ValidFileRunsForward) {
  const std::string path = TinyLlama{}.Write("ok.gguf");
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const ModelConfig& c = (*model)->config();
  EXPECT_EQ(c.n_layers, 1);
  EXPECT_EQ(c.n_vocab, kVocab);
  EXPECT_EQ(c.head_dim, kEmbd / kHeads);
  KvStore kv(c.n_layers, c.n_kv_heads, c.head_dim, c.head_dim_v);
  const std::vector<int32_t> tokens = {1, 3, 4, 5, 6, 7};
  const std::vector<int32_t> pos = {0, 1, 2, 3, 4, 5};
  const std::vector<int64_t> rows = {0, 5};
  std::vector<float> logits(rows.size() * kVocab, NAN);  // [2][kVocab]
  Forward(**model, tokens, pos, kv, rows, logits.data());
  for (float v : logits) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(kv.layer(0).length(), 6);
  EXPECT_NE(logits[0], logits[kVocab]);  // different rows, different logits
}

TEST(ModelLoad, MissingTensorIsNamed) {
  TinyLlama tiny;
  tiny.skip = {"blk.0.ffn_up.weight"};
  auto model = Model::Load(tiny.Write("missing.gguf"));
  ASSERT_FALSE(model.ok());
  const std::string m = model.status().message();
  EXPECT_NE(m.find("missing.gguf"), std::string::npos) << m;
  EXPECT_NE(m.find("missing required tensor 'blk.0.ffn_up.weight'"), std::string::npos) << m;
}

TEST(ModelLoad, ShapeMismatchNamesTensorAndBothShapes) {
  TinyLlama tiny;
  tiny.reshape = "blk.0.attn_q.weight";
  auto model = Model::Load(tiny.Write("shape.gguf"));
  ASSERT_FALSE(model.ok());
  const std::string m = model.status().message();
  EXPECT_NE(m.find("'blk.0.attn_q.weight' has shape [32, 33], expected [32, 32]"),
            std::string::npos) << m;
}

TEST(ModelLoad, NonComputableTypeIsNamed) {
  TinyLlama tiny;
  tiny.matrix_type = static_cast<uint32_t>(GgmlType::kI32);  // 4 bytes like f32
  auto model = Model::Load(tiny.Write("int.gguf"));
  ASSERT_FALSE(model.ok());
  const std::string m = model.status().message();
  EXPECT_NE(m.find("has type i32"), std::string::npos) << m;
  EXPECT_NE(m.find("q4_K"), std::string::npos) << m;  // lists what is supported
}

TEST(ModelLoad, TiedEmbeddingsWhenOutputIsAbsent) {
  TinyLlama tiny;
  tiny.skip = {"output.weight"};
  auto model = Model::Load(tiny.Write("tied.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->weights().output.data, (*model)->weights().token_embd.data);
}

}  // namespace
}  // namespace skv
