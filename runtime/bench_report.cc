// Row formats of runtime/bench.h: JSON (one object per row), CSV (same keys,
// same order) and the human table.
#include <fmt/core.h>

#include <map>
#include <sstream>

#include "runtime/bench.h"
#include "runtime/context.h"

namespace skv {
namespace {

// Key order shared by JSON consumers and the CSV header.
const char* const kKeys[] = {
    "model_path", "architecture", "model_bytes", "weight_bytes", "quant_type",
    "test",       "n_prompt",     "n_gen",       "depth",        "tps_mean",
    "tps_stddev", "tps_samples",  "reps",        "threads",      "simd_target",
    "prefill_gemm", "kv_type", "numa_policy", "numa_nodes",  "pinned",      "peak_rss_bytes", "kv_bytes",  "bytes_per_token",
    "bw_gbps",    "bw_fraction", "prefill_gflop", "fma_peak_gflops", "compute_fraction"};

std::string CsvField(const nlohmann::ordered_json& v) {
  std::string s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) s += ';';
      s += v[i].dump();
    }
  } else {
    s = v.dump();
  }
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}


}  // namespace

nlohmann::ordered_json RowToJson(const BenchRow& r) {
  nlohmann::ordered_json j;  // kKeys order, for readable files
  j["model_path"] = r.model_path;
  j["architecture"] = r.architecture;
  j["model_bytes"] = r.model_bytes;
  j["weight_bytes"] = r.weight_bytes;
  j["quant_type"] = r.quant_type;
  j["test"] = r.test;
  j["n_prompt"] = r.n_prompt;
  j["n_gen"] = r.n_gen;
  j["depth"] = r.depth;
  j["tps_mean"] = r.tps_mean;
  j["tps_stddev"] = r.tps_stddev;
  j["tps_samples"] = r.tps_samples;
  j["reps"] = r.reps;
  j["threads"] = r.threads;
  j["simd_target"] = r.simd_target;
  j["prefill_gemm"] = r.prefill_gemm;
  j["kv_type"] = r.kv_type;
  j["numa_policy"] = r.numa_policy;
  j["numa_nodes"] = r.numa_nodes;
  j["pinned"] = r.pinned;
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["kv_bytes"] = r.kv_bytes;
  j["bytes_per_token"] = r.bytes_per_token;
  j["bw_gbps"] = r.bw_gbps;
  j["bw_fraction"] = r.bw_fraction >= 0 ? nlohmann::ordered_json(r.bw_fraction)
                                        : nlohmann::ordered_json(nullptr);
  j["prefill_gflop"] = r.prefill_gflop;
  j["fma_peak_gflops"] = r.fma_peak_gflops;
  j["compute_fraction"] = r.compute_fraction >= 0
                              ? nlohmann::ordered_json(r.compute_fraction)
                              : nlohmann::ordered_json(nullptr);
  return j;
}

nlohmann::ordered_json RowsToJson(std::span<const BenchRow> rows) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const BenchRow& r : rows) list.push_back(RowToJson(r));
  return list;
}

std::string RowsToCsv(std::span<const BenchRow> rows) {
  std::ostringstream out;
  for (size_t k = 0; k < std::size(kKeys); ++k) out << (k ? "," : "") << kKeys[k];
  out << "\n";
  for (const BenchRow& r : rows) {
    const nlohmann::ordered_json j = RowToJson(r);
    for (size_t k = 0; k < std::size(kKeys); ++k) {
      const nlohmann::ordered_json& v = j.at(kKeys[k]);
      out << (k ? "," : "") << (v.is_null() ? std::string() : CsvField(v));
    }
    out << "\n";
  }
  return out.str();
}

std::string RowsToTable(std::span<const BenchRow> rows) {
  std::string out = fmt::format(
      "| {:<32} | {:>10} | {:<6} | {:>7} | {:<12} | {:>14} | {:>18} | {:>6} | {:>6} | "
      "{:>10} |\n",
      "model", "size", "type", "threads", "simd", "test", "t/s", "BW %", "FMA %", "KV");
  out += fmt::format(
      "|{:-<34}|{:->12}|{:-<8}|{:->9}|{:-<14}|{:->16}|{:->20}|{:->8}|{:->8}|{:->12}|\n", "", "",
      "", "", "", "", "", "", "", "");
  for (const BenchRow& r : rows) {
    std::string model = r.model_path;
    const size_t slash = model.find_last_of('/');
    if (slash != std::string::npos) model = model.substr(slash + 1);
    if (model.size() > 32) model = "..." + model.substr(model.size() - 29);
    const std::string bw =
        r.bw_fraction >= 0 ? fmt::format("{:.1f}", 100 * r.bw_fraction) : "";
    const std::string fma =
        r.compute_fraction >= 0 ? fmt::format("{:.1f}", 100 * r.compute_fraction) : "";
    out += fmt::format(
        "| {:<32} | {:>10} | {:<6} | {:>7} | {:<12} | {:>14} | {:>18} | {:>6} | {:>6} | "
        "{:>10} |\n",
        model, HumanBytes(static_cast<double>(r.model_bytes)), r.quant_type,
        r.threads, r.simd_target, r.test,
        fmt::format("{:.2f} ± {:.2f}", r.tps_mean, r.tps_stddev), bw, fma,
        HumanBytes(static_cast<double>(r.kv_bytes)));
  }
  return out;
}

std::string DominantTensorType(const GgufFile& file) {
  std::map<std::string, uint64_t> bytes;
  for (const GgufTensorInfo& t : file.tensors()) {
    bytes[GgmlTypeName(t.type)] += t.nbytes;
  }
  std::string best;
  uint64_t most = 0;
  for (const auto& [name, b] : bytes) {
    if (b > most) {
      most = b;
      best = name;
    }
  }
  return best;
}

}  // namespace skv
