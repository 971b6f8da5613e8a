#include "models/model.h"

#include <string>
#include <vector>

#include "models/architecture.h"

namespace skv {
namespace {

struct TensorRequest {
  std::string name;
  WeightTensor* dst;
  int64_t cols;
  int64_t rows;   // 1 for vectors
  bool required;
  bool matrix;    // used by matmul: needs a compute kernel for its type
};

std::string ShapeString(int64_t cols, int64_t rows) {
  return rows == 1 ? "[" + std::to_string(cols) + "]"
                   : "[" + std::to_string(cols) + ", " + std::to_string(rows) +
                         "]";
}

Status Bind(const GgufFile& file, const TensorRequest& req, int64_t* bytes) {
  const GgufTensorInfo* t = file.FindTensor(req.name);
  if (t == nullptr) {
    if (!req.required) return Status::Ok();
    return Status::Error(file.path() + ": missing required tensor '" +
                         req.name + "' (expected shape " +
                         ShapeString(req.cols, req.rows) + ")");
  }
  const int64_t cols = t->shape.empty() ? 1 : t->shape[0];
  const int64_t rows = t->rows();
  const bool shape_ok =
      cols == req.cols && rows == req.rows &&
      (t->shape.size() <= 2 ||
       t->n_elements() == cols * rows);  // trailing dims of size 1 allowed
  if (!shape_ok) {
    return Status::Error(file.path() + ": tensor '" + req.name +
                         "' has shape " + t->ShapeString() + ", expected " +
                         ShapeString(req.cols, req.rows));
  }
  const GgmlTypeTraits& traits = GetGgmlType(t->type);
  if (req.matrix && !traits.can_compute) {
    return Status::Error(file.path() + ": tensor '" + req.name +
                         "' has type " + traits.name +
                         ", which StructKV cannot compute with; supported: " +
                         ComputableGgmlTypeNames());
  }
  if (!req.matrix && t->type != GgmlType::kF32) {
    return Status::Error(file.path() + ": tensor '" + req.name +
                         "' has type " + traits.name + ", expected f32");
  }
  WeightTensor& w = *req.dst;
  w.data = t->data;
  w.type = t->type;
  w.cols = cols;
  w.rows = rows;
  w.row_bytes = GgmlRowBytes(t->type, cols);
  w.name = req.name;
  *bytes += static_cast<int64_t>(t->nbytes);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path) {
  std::unique_ptr<Model> model(new Model());
  SKV_ASSIGN_OR_RETURN(model->file_, GgufFile::Open(path));
  const GgufFile& file = *model->file_;
  SKV_ASSIGN_OR_RETURN(std::string arch,
                       file.GetString("general.architecture"));
  SKV_ASSIGN_OR_RETURN(const ArchitectureFamily* family,
                       FindArchitecture(file, arch));
  model->config_.architecture = arch;
  SKV_ASSIGN_OR_RETURN(model->config_.name,
                       file.GetStringOr("general.name", ""));
  SKV_RETURN_IF_ERROR(family->load_config(file, &model->config_));
  SKV_ASSIGN_OR_RETURN(model->tokenizer_, Tokenizer::FromGguf(file));
  model->config_.n_vocab = model->tokenizer_->n_vocab();
  SKV_RETURN_IF_ERROR(model->BindWeights());
  return model;
}

Status Model::BindWeights() {
  const ModelConfig& c = config_;
  ModelWeights& w = weights_;
  const GgufFile& file = *file_;
  std::vector<TensorRequest> reqs = {
      {"token_embd.weight", &w.token_embd, c.n_embd, c.n_vocab, true, true},
      {"output_norm.weight", &w.output_norm, c.n_embd, 1, true, false},
      {"output.weight", &w.output, c.n_embd, c.n_vocab, false, true},
      {"rope_freqs.weight", &w.rope_freqs, c.layers[0].rope.rot_dim / 2, 1,
       false, false},
  };
  w.layers.assign(c.n_layers, LayerWeights{});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& lw = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    const std::vector<TensorRequest> layer_reqs = {
        {p + "attn_norm.weight", &lw.attn_norm, c.n_embd, 1, true, false},
        {p + "attn_q.weight", &lw.wq, c.n_embd, c.q_dim(), true, true},
        {p + "attn_k.weight", &lw.wk, c.n_embd, c.kv_dim(), true, true},
        {p + "attn_v.weight", &lw.wv, c.n_embd, c.v_dim(), true, true},
        {p + "attn_q.bias", &lw.bq, c.q_dim(), 1, c.qkv_bias, false},
        {p + "attn_k.bias", &lw.bk, c.kv_dim(), 1, c.qkv_bias, false},
        {p + "attn_v.bias", &lw.bv, c.v_dim(), 1, c.qkv_bias, false},
        {p + "attn_q_norm.weight", &lw.q_norm, c.head_dim, 1, c.qk_norm, false},
        {p + "attn_k_norm.weight", &lw.k_norm, c.head_dim, 1, c.qk_norm, false},
        {p + "attn_output.weight", &lw.wo, c.q_dim(), c.n_embd, true, true},
        {p + "post_attention_norm.weight", &lw.post_attn_norm, c.n_embd, 1,
         c.post_norms, false},
        {p + "ffn_norm.weight", &lw.ffn_norm, c.n_embd, 1, true, false},
        {p + "ffn_gate.weight", &lw.w_gate, c.n_embd, c.n_ff, true, true},
        {p + "ffn_up.weight", &lw.w_up, c.n_embd, c.n_ff, true, true},
        {p + "ffn_down.weight", &lw.w_down, c.n_ff, c.n_embd, true, true},
        {p + "post_ffw_norm.weight", &lw.post_ffn_norm, c.n_embd, 1,
         c.post_norms, false},
    };
    reqs.insert(reqs.end(), layer_reqs.begin(), layer_reqs.end());
  }
  for (const TensorRequest& req : reqs) {
    SKV_RETURN_IF_ERROR(Bind(file, req, &weight_bytes_));
  }
  if (!w.output.present()) w.output = w.token_embd;  // tied embeddings
  if (w.rope_freqs.present()) {
    for (auto& layer : config_.layers) {
      layer.rope.freq_factors = w.rope_freqs.f32();
    }
  }
  return Status::Ok();
}

}  // namespace skv
