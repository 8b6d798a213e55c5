// A Hugging Face tokenizer folder as GGUF tokenizer metadata (tokenizer.ggml.*), the keys llama.cpp's
// vocabulary loader reads:
//   byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM): model "gpt2", tokens, token_type, merges, and the
//     pre-tokenizer by name ("gpt-2", "llama-bpe", "qwen2", "smollm"... matched on tokenizer.json's split
//     regex; an unknown regex gets "default", whose splitting differs: docs/export.md);
//   SentencePiece-style BPE (byte_fallback, "▁" for spaces: Llama 2, Mistral, Gemma): model "llama",
//     tokens, scores (minus the merge rank that makes a token, so llama.cpp merges in BPE's order),
//     token_type (BYTE for <0xXX>);
// and for both the special-token ids, add_bos_token / add_eos_token as the post-processor applies
// them, and the chat template. Token types: 1 normal, 3 control (special added tokens), 4 user-defined
// (other added tokens), 5 unused (embedding rows past the tokenizer), 6 byte.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace prefer::data {

struct GgufVocab {
  std::vector<std::pair<std::string, io::GgufValue>> metadata;
  std::string pre;                    // the pre-tokenizer name written
  std::vector<std::string> warnings;  // e.g. the "default" pre-tokenizer fallback
};

// `vocab_size`: the model's embedding rows (the token list is padded to it with "[PAD<id>]").
GgufVocab gguf_vocab(const std::filesystem::path& tokenizer_dir, int64_t vocab_size);

}  // namespace prefer::data
