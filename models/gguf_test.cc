#include "models/gguf.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "models/gguf_test_util.h"

namespace skv {
namespace {

using gguf_test::GgufWriter;
using T = GgufValueType;

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = gguf_test::MakeTempDir(); }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  // Writes `bytes` to dir/name and opens it.
  StatusOr<std::unique_ptr<GgufFile>> OpenBytes(const std::string& bytes,
                                                const std::string& name = "t.gguf") {
    path_ = dir_ + "/" + name;
    gguf_test::WriteFile(path_, bytes);
    return GgufFile::Open(path_);
  }
  // Expects Open to fail with a message containing the path and `needle`.
  void ExpectError(const std::string& bytes, const std::string& needle) {
    auto f = OpenBytes(bytes);
    ASSERT_FALSE(f.ok()) << "expected an error containing '" << needle << "'";
    const std::string msg = f.status().message();
    EXPECT_NE(msg.find(path_), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos)
        << "message '" << msg << "' lacks '" << needle << "'";
  }
  std::string dir_;
  std::string path_;
};

std::string F32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// A small valid file used as the base of many corruption tests.
GgufWriter SmallValid(uint32_t version = 3) {
  GgufWriter w(version);
  w.AddString("general.architecture", "gemma3");
  w.AddScalar("gemma3.block_count", T::kUint32, 2);
  w.AddStringArray("tokenizer.ggml.tokens", {"<pad>", "<eos>", "hello"});
  w.AddTensor("token_embd.weight", {4, 3}, GgmlType::kF32,
              F32Bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  w.AddTensor("output_norm.weight", {4}, GgmlType::kF32, F32Bytes({1, 2, 3, 4}));
  return w;
}

TEST_F(GgufTest, RoundTripsEveryScalarTypeInV2AndV3) {
  for (uint32_t version : {2u, 3u}) {
    GgufWriter w(version);
    w.AddScalar("u8", T::kUint8, 250);
    w.AddScalar("i8", T::kInt8, -120);
    w.AddScalar("u16", T::kUint16, 65000);
    w.AddScalar("i16", T::kInt16, -32000);
    w.AddScalar("u32", T::kUint32, 4000000000u);
    w.AddScalar("i32", T::kInt32, -2000000000);
    w.AddScalar("f32", T::kFloat32, 0.25f);
    w.AddScalar("bool_t", T::kBool, 1);
    w.AddScalar("bool_f", T::kBool, 0);
    w.AddString("str", "h\xc3\xa9llo");
    w.AddString("empty_str", "");
    w.AddScalar("u64", T::kUint64, std::numeric_limits<uint64_t>::max());
    w.AddScalar("i64", T::kInt64, std::numeric_limits<int64_t>::min());
    w.AddScalar("f64", T::kFloat64, 1e-300);
    auto f = OpenBytes(w.Build());
    ASSERT_TRUE(f.ok()) << f.status().message();
    const GgufFile& g = **f;
    EXPECT_EQ(g.version(), version);
    EXPECT_EQ(g.metadata().size(), 14u);
    EXPECT_EQ(g.metadata()[0].first, "u8");  // file order
    EXPECT_EQ(g.metadata()[13].first, "f64");
    EXPECT_TRUE(g.tensors().empty());
    EXPECT_EQ(*g.GetUint("u8"), 250u);
    EXPECT_EQ(*g.GetInt("i8"), -120);
    EXPECT_EQ(*g.GetUint("u16"), 65000u);
    EXPECT_EQ(*g.GetInt("i16"), -32000);
    EXPECT_EQ(*g.GetUint("u32"), 4000000000u);
    EXPECT_EQ(*g.GetInt("i32"), -2000000000);
    EXPECT_EQ(*g.GetF32("f32"), 0.25f);
    EXPECT_EQ(*g.GetBool("bool_t"), true);
    EXPECT_EQ(*g.GetBool("bool_f"), false);
    EXPECT_EQ(*g.GetString("str"), "h\xc3\xa9llo");
    EXPECT_EQ(*g.GetString("empty_str"), "");
    EXPECT_EQ(*g.GetUint("u64"), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(*g.GetInt("i64"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(std::get<double>(g.Find("f64")->data), 1e-300);
    EXPECT_EQ(g.Find("u8")->type, T::kUint8);
    EXPECT_EQ(g.Find("f64")->type, T::kFloat64);
    EXPECT_EQ(g.Find("u8")->array_size(), 0u);
    EXPECT_EQ(g.Find("nope"), nullptr);
  }
}

TEST_F(GgufTest, RoundTripsArraysOfEveryElementType) {
  GgufWriter w;
  w.AddArray<uint64_t>("a_u8", T::kUint8, {0, 255});
  w.AddArray<int64_t>("a_i8", T::kInt8, {-128, 127});
  w.AddArray<uint64_t>("a_u16", T::kUint16, {1, 65535});
  w.AddArray<int64_t>("a_i16", T::kInt16, {-32768, 5});
  w.AddArray<uint64_t>("a_u32", T::kUint32, {7, 4294967295u});
  w.AddArray<int64_t>("a_i32", T::kInt32, {-1, 2, -3});
  w.AddArray<double>("a_f32", T::kFloat32, {0.5, -1.25});
  w.AddArray<int>("a_bool", T::kBool, {1, 0, 1});
  w.AddArray<uint64_t>("a_u64", T::kUint64, {std::numeric_limits<uint64_t>::max()});
  w.AddArray<int64_t>("a_i64", T::kInt64, {std::numeric_limits<int64_t>::min()});
  w.AddArray<double>("a_f64", T::kFloat64, {3.5});
  w.AddStringArray("a_str", {"a", "", "ccc"});
  w.AddArray<int>("a_empty", T::kInt32, {});
  auto f = OpenBytes(w.Build());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufFile& g = **f;
  EXPECT_EQ(std::get<std::vector<uint64_t>>(g.Find("a_u8")->data),
            (std::vector<uint64_t>{0, 255}));
  EXPECT_EQ(*g.GetIntArray("a_i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(*g.GetIntArray("a_u16"), (std::vector<int64_t>{1, 65535}));
  EXPECT_EQ(*g.GetIntArray("a_i16"), (std::vector<int64_t>{-32768, 5}));
  EXPECT_EQ(*g.GetIntArray("a_u32"), (std::vector<int64_t>{7, 4294967295ll}));
  EXPECT_EQ(*g.GetIntArray("a_i32"), (std::vector<int64_t>{-1, 2, -3}));
  EXPECT_EQ(*g.GetF32Array("a_f32"), (std::vector<float>{0.5f, -1.25f}));
  EXPECT_EQ(std::get<std::vector<bool>>(g.Find("a_bool")->data),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(*g.GetIntArray("a_i64"),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(*g.GetF32Array("a_f64"), (std::vector<float>{3.5f}));
  auto strs = g.GetStringArray("a_str");
  ASSERT_TRUE(strs.ok());
  EXPECT_EQ(**strs, (std::vector<std::string_view>{"a", "", "ccc"}));
  EXPECT_EQ(g.Find("a_str")->array_type, T::kString);
  EXPECT_EQ(g.Find("a_str")->array_size(), 3u);
  EXPECT_EQ(g.Find("a_empty")->array_size(), 0u);
  EXPECT_TRUE(g.GetIntArray("a_empty")->empty());
  // u64 elements that do not fit int64.
  auto big = g.GetIntArray("a_u64");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("'a_u64' element 0"), std::string::npos)
      << big.status().message();
  // String views point into the mapping (no copies).
  const auto* p = (**strs)[2].data();
  EXPECT_EQ(std::string_view(p, 3), "ccc");
}

TEST_F(GgufTest, GetterErrorsNameFileKeyAndFoundType) {
  GgufWriter w;
  w.AddString("gemma3.block_count", "18");
  w.AddScalar("neg", T::kInt32, -5);
  w.AddScalar("big", T::kUint64, std::numeric_limits<uint64_t>::max());
  w.AddScalar("flag", T::kBool, 1);
  w.AddScalar("n", T::kUint16, 7);
  w.AddArray<int>("ids", T::kInt32, {1, 2});
  w.AddStringArray("toks", {"x"});
  auto f = OpenBytes(w.Build(), "gemma.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufFile& g = **f;
  EXPECT_EQ(g.GetInt("gemma3.block_count").status().message(),
            path_ + ": metadata key 'gemma3.block_count' has type string, "
                    "expected an integer");
  EXPECT_EQ(g.GetUint("gemma3.block_count").status().message(),
            path_ + ": metadata key 'gemma3.block_count' has type string, "
                    "expected an integer");
  EXPECT_EQ(g.GetUint("x").status().message(), path_ + ": missing required key 'x'");
  EXPECT_EQ(g.GetUint("neg").status().message(),
            path_ + ": metadata key 'neg' has value -5, expected a non-negative integer");
  EXPECT_EQ(*g.GetInt("neg"), -5);
  EXPECT_FALSE(g.GetInt("big").ok());
  EXPECT_NE(g.GetInt("big").status().message().find("does not fit in int64"),
            std::string::npos);
  EXPECT_EQ(g.GetString("flag").status().message(),
            path_ + ": metadata key 'flag' has type bool, expected a string");
  EXPECT_EQ(g.GetBool("n").status().message(),
            path_ + ": metadata key 'n' has type uint16, expected a bool");
  EXPECT_EQ(*g.GetF32("n"), 7.0f);  // integers are accepted as floats
  EXPECT_EQ(*g.GetF32("neg"), -5.0f);
  EXPECT_EQ(g.GetF32("flag").status().message(),
            path_ + ": metadata key 'flag' has type bool, expected a number");
  EXPECT_EQ(g.GetStringArray("ids").status().message(),
            path_ + ": metadata key 'ids' has type array of int32, expected an "
                    "array of string");
  EXPECT_EQ(g.GetF32Array("toks").status().message(),
            path_ + ": metadata key 'toks' has type array of string, expected an "
                    "array of float32");
  EXPECT_EQ(g.GetIntArray("n").status().message(),
            path_ + ": metadata key 'n' has type uint16, expected an array of integers");
  EXPECT_EQ(g.GetStringArray("missing").status().message(),
            path_ + ": missing required key 'missing'");
  // *Or getters: default when absent, still an error when wrongly typed.
  EXPECT_EQ(*g.GetUintOr("absent", 42), 42u);
  EXPECT_EQ(*g.GetUintOr("n", 42), 7u);
  EXPECT_FALSE(g.GetUintOr("gemma3.block_count", 42).ok());
  EXPECT_EQ(*g.GetF32Or("absent", 1.5f), 1.5f);
  EXPECT_FALSE(g.GetF32Or("toks", 1.5f).ok());
  EXPECT_EQ(*g.GetBoolOr("absent", true), true);
  EXPECT_EQ(*g.GetBoolOr("flag", false), true);
  EXPECT_FALSE(g.GetBoolOr("n", false).ok());
  EXPECT_EQ(*g.GetStringOr("absent", "d"), "d");
  EXPECT_EQ(*g.GetStringOr("gemma3.block_count", "d"), "18");
  EXPECT_FALSE(g.GetStringOr("n", "d").ok());
}

TEST_F(GgufTest, TensorInfosAndDataPointers) {
  for (uint32_t version : {2u, 3u}) {
    GgufWriter w = SmallValid(version);
    std::string q8(34 * 2 * 3, '\0');  // q8_0: 32 elements in 34 bytes
    for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<char>(i * 7);
    w.AddTensor("blk.0.q8", {64, 3}, GgmlType::kQ8_0, q8);
    auto f = OpenBytes(w.Build());
    ASSERT_TRUE(f.ok()) << f.status().message();
    const GgufFile& g = **f;
    ASSERT_EQ(g.tensors().size(), 3u);
    EXPECT_EQ(g.alignment(), 32u);
    EXPECT_EQ(g.data_offset() % 32, 0u);
    const GgufTensorInfo* e = g.FindTensor("token_embd.weight");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e, &g.tensors()[0]);
    EXPECT_EQ(e->shape, (std::vector<int64_t>{4, 3}));
    EXPECT_EQ(e->ShapeString(), "[4, 3]");
    EXPECT_EQ(e->n_elements(), 12);
    EXPECT_EQ(e->rows(), 3);
    EXPECT_EQ(e->type, GgmlType::kF32);
    EXPECT_EQ(e->nbytes, 48u);
    EXPECT_EQ(e->offset, 0u);
    const float* data = reinterpret_cast<const float*>(e->data);
    EXPECT_EQ(data[0], 0.0f);
    EXPECT_EQ(data[11], 11.0f);
    const GgufTensorInfo* n = g.FindTensor("output_norm.weight");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->offset, 64u);  // 48 rounded up to the alignment
    EXPECT_EQ(n->data, g.tensors()[0].data + 64);
    EXPECT_EQ(reinterpret_cast<const float*>(n->data)[3], 4.0f);
    const GgufTensorInfo* q = g.FindTensor("blk.0.q8");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type, GgmlType::kQ8_0);
    EXPECT_EQ(q->nbytes, q8.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(q->data), q->nbytes), q8);
    EXPECT_EQ(q->data + q->nbytes, g.tensors().back().data + q8.size());
    EXPECT_EQ(g.FindTensor("nope"), nullptr);
    EXPECT_EQ(*g.GetString("general.architecture"), "gemma3");
  }
}

TEST_F(GgufTest, HonoursGeneralAlignment) {
  for (uint64_t a : {1u, 8u, 64u, 256u, 4096u}) {
    GgufWriter w;
    w.set_alignment(a);
    w.AddScalar("general.alignment", T::kUint32, a);
    w.AddTensor("a", {3}, GgmlType::kF32, F32Bytes({1, 2, 3}));
    w.AddTensor("b", {5}, GgmlType::kF32, F32Bytes({1, 2, 3, 4, 5}));
    auto f = OpenBytes(w.Build());
    ASSERT_TRUE(f.ok()) << a << ": " << f.status().message();
    EXPECT_EQ((*f)->alignment(), a);
    EXPECT_EQ((*f)->data_offset() % a, 0u);
    EXPECT_EQ((*f)->tensors()[1].offset, (12 + a - 1) / a * a);
    float last;  // alignment 1 leaves the data unaligned: no float* reads
    std::memcpy(&last, (*f)->tensors()[1].data + 16, 4);
    EXPECT_EQ(last, 5.0f);
  }
  // Any integer type holding a power of two is accepted.
  GgufWriter w;
  w.set_alignment(64);
  w.AddScalar("general.alignment", T::kUint64, 64);
  w.AddTensor("a", {3}, GgmlType::kF32, F32Bytes({1, 2, 3}));
  auto f = OpenBytes(w.Build());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->alignment(), 64u);
}

TEST_F(GgufTest, RejectsBadAlignment) {
  for (uint64_t a : {0u, 3u, 48u}) {
    GgufWriter w;
    w.AddScalar("general.alignment", T::kUint32, a);
    ExpectError(w.Build(), "'general.alignment' is " + std::to_string(a) +
                               ", but the alignment must be a nonzero power of two");
  }
  GgufWriter w;
  w.AddString("general.alignment", "32");
  ExpectError(w.Build(), "'general.alignment' has type string");
  GgufWriter neg;
  neg.AddScalar("general.alignment", T::kInt32, -32);
  ExpectError(neg.Build(), "'general.alignment' has value -32");
}

TEST_F(GgufTest, OverlappingTensorsAreAllowed) {
  GgufWriter w;
  w.AddTensor("a", {8}, GgmlType::kF32, F32Bytes({1, 2, 3, 4, 5, 6, 7, 8}), 0);
  w.AddTensor("b", {4}, GgmlType::kF32, "", 0);
  auto f = OpenBytes(w.Build());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->tensors()[0].data, (*f)->tensors()[1].data);
}

TEST_F(GgufTest, RejectsBadMagicAndVersions) {
  GgufWriter w = SmallValid();
  w.set_magic("GGJT");
  ExpectError(w.Build(), "bad magic 'GGJT'");
  ExpectError("", "truncated file: 0 bytes");
  ExpectError("GG", "truncated file: 2 bytes");
  ExpectError("GGUF", "truncated file: the GGUF version");
  ExpectError(SmallValid(1).Build(), "unsupported GGUF version 1");
  ExpectError(SmallValid(4).Build(), "unsupported GGUF version 4");
  ExpectError(SmallValid(0x03000000).Build(), "big-endian");
  ExpectError(SmallValid(0x7fffffff).Build(), "unsupported GGUF version 2147483647");
}

TEST_F(GgufTest, RejectsUnopenableFiles) {
  auto f = GgufFile::Open(dir_ + "/does_not_exist.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find(dir_ + "/does_not_exist.gguf: cannot open"),
            std::string::npos)
      << f.status().message();
  auto d = GgufFile::Open(dir_);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("not a regular file"), std::string::npos);
}

TEST_F(GgufTest, RejectsAbsurdCountsBeforeAllocating) {
  {
    GgufWriter w = SmallValid();
    w.set_kv_count(std::numeric_limits<uint64_t>::max());
    ExpectError(w.Build(), "kv_count 18446744073709551615 is impossibly large");
  }
  {
    GgufWriter w = SmallValid();
    w.set_tensor_count(uint64_t{1} << 60);
    ExpectError(w.Build(), "tensor_count 1152921504606846976 is impossibly large");
  }
  {
    GgufWriter w;
    std::string v;
    GgufWriter::Append<uint32_t>(&v, static_cast<uint32_t>(T::kUint64));
    GgufWriter::Append<uint64_t>(&v, uint64_t{1} << 61);  // 2^64 bytes
    w.AddRawKv("huge", static_cast<uint32_t>(T::kArray), v);
    ExpectError(w.Build(), "metadata key 'huge': array length 2305843009213693952");
  }
  {
    GgufWriter w;
    std::string v;
    GgufWriter::Append<uint32_t>(&v, static_cast<uint32_t>(T::kString));
    GgufWriter::Append<uint64_t>(&v, 1000000);
    w.AddRawKv("toks", static_cast<uint32_t>(T::kArray), v + std::string(64, 'x'));
    ExpectError(w.Build(), "metadata key 'toks': array length 1000000");
  }
  {
    GgufWriter w;
    std::string v;
    GgufWriter::Append<uint64_t>(&v, std::numeric_limits<uint64_t>::max());
    w.AddRawKv("name", static_cast<uint32_t>(T::kString), v + "abc");
    ExpectError(w.Build(), "metadata key 'name': string length 18446744073709551615");
  }
  {
    GgufWriter w;
    std::string v;
    GgufWriter::Append<uint32_t>(&v, static_cast<uint32_t>(T::kString));
    GgufWriter::Append<uint64_t>(&v, 2);
    GgufWriter::AppendString(&v, "ok");
    GgufWriter::Append<uint64_t>(&v, 1u << 30);
    w.AddRawKv("toks", static_cast<uint32_t>(T::kArray), v + "abcdefgh");
    ExpectError(w.Build(), "metadata key 'toks': string 1 of 2 has length 1073741824");
  }
}

TEST_F(GgufTest, RejectsMalformedMetadata) {
  {
    GgufWriter w;
    w.AddRawKv("k", 13, "abcd");
    ExpectError(w.Build(), "metadata key 'k' has unknown value type 13");
  }
  {
    GgufWriter w;
    std::string v;
    GgufWriter::Append<uint32_t>(&v, static_cast<uint32_t>(T::kArray));
    GgufWriter::Append<uint64_t>(&v, 1);
    w.AddRawKv("nested", static_cast<uint32_t>(T::kArray), v + std::string(20, '\0'));
    ExpectError(w.Build(), "metadata key 'nested' is a nested array");
  }
  {
    GgufWriter w;
    std::string v;
    GgufWriter::Append<uint32_t>(&v, 99);
    GgufWriter::Append<uint64_t>(&v, 1);
    w.AddRawKv("arr", static_cast<uint32_t>(T::kArray), v + std::string(20, '\0'));
    ExpectError(w.Build(), "metadata key 'arr' is an array of unknown value type 99");
  }
  {
    GgufWriter w;
    w.AddScalar("b", T::kBool, 2);
    ExpectError(w.Build(), "metadata key 'b' has bool value 2");
  }
  {
    GgufWriter w;
    w.AddArray<int>("bs", T::kBool, {0, 1, 7});
    ExpectError(w.Build(), "metadata key 'bs': bool array element 2 has value 7");
  }
  {
    GgufWriter w;
    w.AddScalar("dup", T::kUint32, 1);
    w.AddScalar("other", T::kUint32, 1);
    w.AddString("dup", "again");
    ExpectError(w.Build(), "duplicate metadata key 'dup' (metadata entries 0 and 2)");
  }
  {
    GgufWriter w;
    w.AddScalar("", T::kUint32, 1);
    ExpectError(w.Build(), "metadata entry 0 of 1 has an empty key");
  }
  {
    GgufWriter w;
    w.AddScalar(std::string("bad\nkey\x01", 8), T::kUint8, 300);
    w.AddScalar(std::string("bad\nkey\x01", 8), T::kUint8, 1);
    ExpectError(w.Build(), "duplicate metadata key 'bad\\x0akey\\x01'");
  }
}

TEST_F(GgufTest, RejectsMalformedTensorInfos) {
  auto with_tensor = [](const std::vector<uint64_t>& shape, uint32_t type,
                        std::string data, std::optional<uint64_t> off = {}) {
    GgufWriter w = SmallValid();
    w.AddTensor("blk.0.bad", shape, type, std::move(data), off);
    return w.Build();
  };
  const uint32_t f32 = static_cast<uint32_t>(GgmlType::kF32);
  const uint32_t q8 = static_cast<uint32_t>(GgmlType::kQ8_0);
  ExpectError(with_tensor({4}, 99, std::string(16, '\0')),
              "tensor 'blk.0.bad' has unknown GGML type 99");
  ExpectError(with_tensor({4}, 4, std::string(16, '\0')),  // Q4_2: removed
              "tensor 'blk.0.bad' has unknown GGML type 4");
  ExpectError(with_tensor({}, f32, ""), "tensor 'blk.0.bad' has 0 dimensions");
  ExpectError(with_tensor({1, 1, 1, 1, 1}, f32, std::string(4, '\0')),
              "tensor 'blk.0.bad' has 5 dimensions (must be 1 to 4)");
  ExpectError(with_tensor({4, 0}, f32, ""),
              "tensor 'blk.0.bad' has dimension 1 equal to 0");
  ExpectError(with_tensor({uint64_t(-4)}, f32, ""),
              "tensor 'blk.0.bad' has dimension 0 = 18446744073709551612, which is "
              "negative as int64");
  ExpectError(with_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, f32, ""),
              "tensor 'blk.0.bad': the element count of shape [4294967296, "
              "4294967296] overflows int64");
  ExpectError(with_tensor({uint64_t{1} << 61, 2}, f32, ""),
              "tensor 'blk.0.bad': the byte size of f32 shape");
  ExpectError(with_tensor({uint64_t{1} << 58, 31}, q8, ""),
              "tensor 'blk.0.bad': the byte size of q8_0 shape");
  ExpectError(with_tensor({40, 2}, q8, std::string(100, '\0')),
              "tensor 'blk.0.bad' of type q8_0 has shape [40, 2]: shape[0] = 40 is "
              "not a multiple of the block size 32");
  ExpectError(with_tensor({4}, f32, std::string(16, '\0'), 1000),
              "tensor 'blk.0.bad' has data offset 1000, which is not a multiple "
              "of the alignment 32");
  {
    // Offset past the end of the file.
    GgufWriter w = SmallValid();
    w.AddTensor("blk.0.bad", {4}, GgmlType::kF32, "", uint64_t{1} << 40);
    ExpectError(w.Build(), "tensor 'blk.0.bad' (f32 [4], 16 bytes at data offset "
                           "1099511627776) extends past the end of the file");
  }
  {
    // Offset so large that offset + data offset wraps around.
    GgufWriter w = SmallValid();
    w.AddTensor("blk.0.bad", {4}, GgmlType::kF32, "", uint64_t(-32));
    ExpectError(w.Build(), "tensor 'blk.0.bad' (f32 [4], 16 bytes at data offset "
                           "18446744073709551584) extends past the end");
  }
  {
    // Data cut short: the last tensor extends past the end.
    std::string bytes = with_tensor({8}, f32, std::string(32, '\0'));
    bytes.resize(bytes.size() - 1);
    ExpectError(bytes, "tensor 'blk.0.bad' (f32 [8], 32 bytes at data offset 96) "
                       "extends past the end of the file");
  }
  {
    GgufWriter w = SmallValid();
    w.AddTensor("token_embd.weight", {4}, GgmlType::kF32, std::string(16, '\0'));
    ExpectError(w.Build(), "duplicate tensor 'token_embd.weight' (tensor infos 0 and 2 have the same name)");
  }
  {
    GgufWriter w = SmallValid();
    w.AddTensor("", {4}, GgmlType::kF32, std::string(16, '\0'));
    ExpectError(w.Build(), "tensor info 2 of 3 has an empty name");
  }
}

TEST_F(GgufTest, EveryTruncationIsAnErrorNamingTheFile) {
  GgufWriter w = SmallValid();
  w.AddScalar("general.alignment", T::kUint32, 32);
  w.AddArray<double>("scores", T::kFloat32, {1, 2, 3});
  w.AddArray<int>("types", T::kInt32, {1, 2, 3});
  const std::string full = w.Build();
  ASSERT_TRUE(OpenBytes(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    auto f = OpenBytes(full.substr(0, n));
    ASSERT_FALSE(f.ok()) << "prefix of " << n << " bytes was accepted";
    const std::string msg = f.status().message();
    EXPECT_EQ(msg.rfind(path_ + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << n << ": " << msg;
  }
}

TEST_F(GgufTest, TruncationMessagesNameTheField) {
  GgufWriter w;
  w.AddString("general.name", "abcdef");
  const std::string full = w.Build();
  // Header 24 bytes, key length 8, key 12, type 4, string length 8, string.
  ExpectError(full.substr(0, 20), "truncated file: the kv_count header field needs 8 bytes at offset 16");
  ExpectError(full.substr(0, 24 + 8 + 12 + 2),
              "truncated file: the value type of metadata key 'general.name' needs 4 bytes");
  ExpectError(full.substr(0, full.size() - 1),
              "the value of metadata key 'general.name': string length 6");
}

// Random corruption: whatever happens, no crash, and errors name the file.
TEST_F(GgufTest, RandomByteFlipsNeverCrash) {
  GgufWriter w = SmallValid();
  w.AddScalar("general.alignment", T::kUint32, 32);
  w.AddArray<double>("scores", T::kFloat32, {1, 2, 3});
  w.AddArray<int>("flags", T::kBool, {1, 0});
  w.AddScalar("f64", T::kFloat64, 2.5);
  const std::string full = w.Build();
  std::mt19937_64 rng(1234);
  int ok = 0, err = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t pos = rng() % b.size();
      switch (rng() % 3) {
        case 0: b[pos] ^= static_cast<char>(1 << (rng() % 8)); break;
        case 1: b[pos] = static_cast<char>(rng()); break;
        default: b[pos] = static_cast<char>(0xff); break;
      }
    }
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    auto f = OpenBytes(b);
    if (f.ok()) {
      ++ok;
      // Everything reachable through the API must be readable.
      for (const auto& [key, value] : (*f)->metadata()) {
        (void)GgufFile::ValueToString(value);
      }
      for (const auto& t : (*f)->tensors()) {
        ASSERT_LE(t.data + t.nbytes, t.data - t.offset - (*f)->data_offset() +
                                         (*f)->file_size());
        volatile uint8_t sink = 0;
        if (t.nbytes > 0) sink = t.data[t.nbytes - 1];
        (void)sink;
      }
    } else {
      ++err;
      ASSERT_EQ(f.status().message().rfind(path_ + ": ", 0), 0u)
          << f.status().message();
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(err, 0);
}

TEST_F(GgufTest, ValueToString) {
  GgufWriter w;
  w.AddScalar("u", T::kUint32, 18);
  w.AddScalar("i", T::kInt32, -3);
  w.AddScalar("f", T::kFloat32, 1e-6f);
  w.AddScalar("d", T::kFloat64, 0.1);
  w.AddScalar("b", T::kBool, 1);
  w.AddString("s", "a\"b\n");
  w.AddArray<int>("short", T::kInt32, {1, 2, 3});
  w.AddArray<int>("long", T::kUint8, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  w.AddStringArray("toks", {"<pad>", "x"});
  w.AddArray<double>("fs", T::kFloat32, {0.5, 1e-6});
  w.AddArray<int>("empty", T::kInt32, {});
  auto f = OpenBytes(w.Build());
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto s = [&](const char* k, size_t max = 8) {
    return GgufFile::ValueToString(*(*f)->Find(k), max);
  };
  EXPECT_EQ(s("u"), "18");
  EXPECT_EQ(s("i"), "-3");
  EXPECT_EQ(s("f"), "1e-06");
  EXPECT_EQ(s("d"), "0.1");
  EXPECT_EQ(s("b"), "true");
  EXPECT_EQ(s("s"), "\"a\\\"b\\n\"");
  EXPECT_EQ(s("short"), "[1, 2, 3]");
  EXPECT_EQ(s("long"), "[1, 2, 3, 4, 5, 6, 7, 8, ...] (10 items)");
  EXPECT_EQ(s("long", 2), "[1, 2, ...] (10 items)");
  EXPECT_EQ(s("long", 0), "[...] (10 items)");
  EXPECT_EQ(s("toks"), "[\"<pad>\", \"x\"]");
  EXPECT_EQ(s("fs"), "[0.5, 1e-06]");
  EXPECT_EQ(s("empty"), "[]");
  EXPECT_STREQ(GgufValueTypeName(T::kFloat64), "float64");
  EXPECT_STREQ(GgufValueTypeName(static_cast<T>(77)), "unknown");
}

TEST_F(GgufTest, LargeStringArrayLoadsFast) {
  std::vector<std::string> toks;
  toks.reserve(262144);
  for (int i = 0; i < 262144; ++i) toks.push_back("tok" + std::to_string(i));
  GgufWriter w;
  w.AddStringArray("tokenizer.ggml.tokens", toks);
  const std::string bytes = w.Build();
  const auto t0 = std::chrono::steady_clock::now();
  auto f = OpenBytes(bytes);
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto a = (*f)->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ((*a)->size(), 262144u);
  EXPECT_EQ((**a)[262143], "tok262143");
  // Generous bound (sanitizer builds, busy machines); typically ~2 ms.
  EXPECT_LT(ms, 2000.0);
}

const char* RealModelPath() {
  return SKV_SOURCE_DIR "/models-cache/gemma-3-270m-q4_k_m.gguf";
}

TEST(GgufRealModel, Gemma3_270m) {
  struct stat st;
  if (::stat(RealModelPath(), &st) != 0) {
    GTEST_SKIP() << RealModelPath() << " is absent";
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto f = GgufFile::Open(RealModelPath());
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufFile& g = **f;
  std::printf("opened %s in %.1f ms\n", RealModelPath(), ms);
  EXPECT_EQ(g.tensors().size(), 236u);
  EXPECT_EQ(*g.GetString("general.architecture"), "gemma3");
  EXPECT_EQ(*g.GetUint("gemma3.block_count"), 18u);
  EXPECT_EQ(*g.GetInt("gemma3.block_count"), 18);
  const GgufTensorInfo* emb = g.FindTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ShapeString(), "[640, 262144]");
  EXPECT_EQ(emb->type, GgmlType::kQ8_0);
  EXPECT_EQ(emb->nbytes, 640u / 32 * 34 * 262144);
  auto toks = g.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(toks.ok()) << toks.status().message();
  EXPECT_EQ((*toks)->size(), 262144u);
  auto scores = g.GetF32Array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok()) << scores.status().message();
  EXPECT_EQ(scores->size(), 262144u);
  EXPECT_EQ(g.data_offset() % g.alignment(), 0u);
  for (const GgufTensorInfo& t : g.tensors()) {
    EXPECT_LE(t.data + t.nbytes, t.data - t.offset - g.data_offset() + g.file_size())
        << t.name;
  }
}

// The corruption corpus written by tests/gguf_corrupt/make_corpus.py: every
// file in its manifest must open or fail exactly as the manifest says.
TEST(GgufCorpus, MatchesManifest) {
  const char* dir = std::getenv("SKV_GGUF_CORPUS_DIR");
  if (dir == nullptr || *dir == '\0') {
    GTEST_SKIP() << "SKV_GGUF_CORPUS_DIR is not set";
  }
  const std::string manifest_path = std::string(dir) + "/manifest.txt";
  std::ifstream manifest(manifest_path);
  ASSERT_TRUE(manifest) << "cannot read " << manifest_path;
  std::string line;
  int files = 0, oks = 0, errors = 0;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    // filename TAB outcome [TAB substring]
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) fields.push_back(field);
    ASSERT_GE(fields.size(), 2u) << "bad manifest line: " << line;
    const std::string path = std::string(dir) + "/" + fields[0];
    const std::string& outcome = fields[1];
    const std::string needle = fields.size() > 2 ? fields[2] : "";
    ++files;
    auto f = GgufFile::Open(path);
    if (outcome == "ok") {
      ++oks;
      EXPECT_TRUE(f.ok()) << fields[0] << ": " << f.status().message();
    } else {
      ASSERT_EQ(outcome, "error") << "bad manifest line: " << line;
      ++errors;
      if (f.ok()) {
        ADD_FAILURE() << fields[0] << " opened, expected an error containing '"
                      << needle << "'";
        continue;
      }
      const std::string msg = f.status().message();
      EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << fields[0] << ": " << msg;
      EXPECT_NE(msg.find(needle), std::string::npos)
          << fields[0] << ": message '" << msg << "' lacks '" << needle << "'";
    }
  }
  std::printf("corpus: %d files, %d ok, %d errors\n", files, oks, errors);
  EXPECT_GE(files, 41);
  EXPECT_GE(oks, 1);
}

}  // namespace
}  // namespace skv
