// A session's state on disk: prefill and compress a document once, ask many
// questions later (`structkv run --save-state` / `--load-state`). A
// query-agnostic compressed cache serves any question, so the expensive part
// of the job (the prefill) is paid once per document.
//
// File layout (little-endian, version 1):
//   "SKVSTATE" | u32 version | u64 header bytes | header (JSON: format,
//   version, model identity, cache type, shapes, n_past, the caller's info) |
//   per layer: u64 entries per KV head n,
//              k  [n_kv_heads][n][k_units] u16 (the cache's stored rows),
//              v  [n_kv_heads][n][v_units] u16,
//              pos [n_kv_heads][n] i32 (original positions),
//              u64 checksum of the layer's k, v and pos bytes.
// The file is written beside its destination and renamed into place, so an
// interrupted or failed save (a full disk) never leaves a partial state
// under the final name; the previous file, if any, stays intact.
//
// Loading validates everything before trusting it: magic, version, that the
// state was made by the same model file (architecture, shapes, file size and
// a fingerprint of its tensor table), the cache type, every layer's length
// against n_past and the file size, every checksum. Errors name the file and
// what is wrong.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "models/model.h"
#include "runtime/session.h"

namespace skv {

// A short identity of the model file: architecture, shapes, file size and a
// 64-bit fingerprint of its tensor names, types, shapes and offsets.
nlohmann::json ModelIdentity(const Model& model);

// Writes `session`'s cache and position to `path` (atomically, see above).
// `info` is stored in the header for whoever loads it (method, budget,
// document, ...).
Status SaveSessionState(const Session& session, const std::string& path,
                        const nlohmann::json& info);

struct LoadedState {
  Session session;
  nlohmann::json info;     // what the saver stored
  int64_t file_bytes = 0;
};

// Restores a session from `path` for `model`, with room for `extra_tokens`
// more tokens after the saved position (options.n_ctx becomes n_past +
// extra_tokens; options.kv_type becomes the state's cache type).
StatusOr<LoadedState> LoadSessionState(const Model& model, SessionOptions options,
                                       const std::string& path, int64_t extra_tokens);

}  // namespace skv
