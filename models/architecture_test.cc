// Family configs from metadata, and the errors for unsupported models.
#include "models/architecture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "models/gguf_test_util.h"

namespace skv {
namespace {

using gguf_test::GgufWriter;

// A metadata-only file of architecture `arch` with the usual size keys.
std::unique_ptr<GgufFile> Open(GgufWriter& w, const std::string& name) {
  const std::string path = gguf_test::MakeTempDir("skv_arch") + "/" + name;
  gguf_test::WriteFile(path, w.Build());
  auto file = GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().message();
  return std::move(file).value();
}

GgufWriter BaseWriter(const std::string& arch) {
  GgufWriter w;
  w.AddString("general.architecture", arch);
  w.AddScalar(arch + ".block_count", GgufValueType::kUint32, uint32_t{12});
  w.AddScalar(arch + ".embedding_length", GgufValueType::kUint32, uint32_t{640});
  w.AddScalar(arch + ".feed_forward_length", GgufValueType::kUint32, uint32_t{2048});
  w.AddScalar(arch + ".attention.head_count", GgufValueType::kUint32, uint32_t{4});
  w.AddScalar(arch + ".attention.head_count_kv", GgufValueType::kUint32, uint32_t{1});
  w.AddScalar(arch + ".attention.key_length", GgufValueType::kUint32, uint32_t{256});
  w.AddScalar(arch + ".attention.value_length", GgufValueType::kUint32, uint32_t{256});
  w.AddScalar(arch + ".rope.freq_base", GgufValueType::kFloat32, 1e6f);
  return w;
}

ModelConfig Load(const GgufFile& file, const std::string& arch, Status* st) {
  ModelConfig c;
  c.architecture = arch;
  auto family = FindArchitecture(file, arch);
  if (!family.ok()) {
    *st = family.status();
    return c;
  }
  *st = (*family)->load_config(file, &c);
  return c;
}

TEST(Architecture, Gemma3InterleavesLocalAndGlobalLayers) {
  GgufWriter w = BaseWriter("gemma3");
  w.AddScalar("gemma3.attention.sliding_window", GgufValueType::kUint32, uint32_t{512});
  auto file = Open(w, "g.gguf");
  Status st;
  ModelConfig c = Load(*file, "gemma3", &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.layers.size(), 12u);
  for (int l = 0; l < 12; ++l) {
    const bool global = (l + 1) % 6 == 0;
    EXPECT_EQ(c.layers[l].sliding, !global) << l;
    EXPECT_EQ(c.layers[l].sliding_window, global ? 0 : 512) << l;
    EXPECT_FLOAT_EQ(c.layers[l].rope.freq_base, global ? 1e6f : 10000.f) << l;
    EXPECT_EQ(c.layers[l].rope.style, RopeParams::Style::kNeox);
  }
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.post_norms);
  EXPECT_EQ(c.activation, FfnActivation::kGeluTanh);
  EXPECT_FLOAT_EQ(c.embd_scale, std::sqrt(640.f));
  EXPECT_FLOAT_EQ(c.attn_scale, 1.f / 16.f);
}

TEST(Architecture, LlamaReadsRopeScaling) {
  GgufWriter w = BaseWriter("llama");
  w.AddString("llama.rope.scaling.type", "linear");
  w.AddScalar("llama.rope.scaling.factor", GgufValueType::kFloat32, 4.f);
  auto file = Open(w, "l.gguf");
  Status st;
  ModelConfig c = Load(*file, "llama", &st);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FLOAT_EQ(c.layers[0].rope.freq_scale, 0.25f);
  EXPECT_EQ(c.layers[0].rope.style, RopeParams::Style::kNorm);
  EXPECT_FALSE(c.qkv_bias);
}

TEST(Architecture, Qwen2HasBiasesAndNeoxRope) {
  GgufWriter w = BaseWriter("qwen2");
  auto file = Open(w, "q.gguf");
  Status st;
  ModelConfig c = Load(*file, "qwen2", &st);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.layers[0].rope.style, RopeParams::Style::kNeox);
}

TEST(Architecture, UnsupportedArchitectureListsSupportedOnes) {
  GgufWriter w = BaseWriter("mamba");
  auto file = Open(w, "m.gguf");
  Status st;
  Load(*file, "mamba", &st);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'mamba'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("llama, qwen2, gemma3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("m.gguf"), std::string::npos);
}

TEST(Architecture, UnsupportedFeaturesAreNamed) {
  {
    GgufWriter w = BaseWriter("llama");
    w.AddScalar("llama.expert_count", GgufValueType::kUint32, uint32_t{8});
    auto file = Open(w, "moe.gguf");
    Status st;
    Load(*file, "llama", &st);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("llama.expert_count"), std::string::npos) << st.message();
  }
  {
    GgufWriter w = BaseWriter("llama");
    w.AddString("llama.rope.scaling.type", "longrope");
    auto file = Open(w, "lr.gguf");
    Status st;
    Load(*file, "llama", &st);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("longrope"), std::string::npos) << st.message();
  }
  {
    GgufWriter w;
    w.AddString("general.architecture", "llama");
    auto file = Open(w, "empty.gguf");
    Status st;
    Load(*file, "llama", &st);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("llama.block_count"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace skv
