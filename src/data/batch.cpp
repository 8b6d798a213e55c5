#include "data/batch.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "data/packing.h"
#include "util/error.h"

namespace prefer::data {

namespace {

struct Scored {
  int64_t source;    // slot in the row (before padding offset) that predicts the token
  int64_t target;    // slot of the token
  int64_t sequence;  // sequence index in the batch
};

struct RowSpec {
  std::vector<int32_t> ids;
  std::vector<int64_t> pos;
  std::vector<uint8_t> response;  // 1 where the slot's token is scored from the slot before
  std::vector<uint8_t> side;      // prefix-shared: 0 prompt, 1 chosen, 2 rejected (empty: all 0)
  std::vector<int32_t> segment;   // padding-free: which of the row's sequences the slot belongs to (empty: all 0)
  std::vector<Scored> scored;
};

// Padding-free: the given rows one after another in one row; slots and scored entries shift by each
// part's start, and every slot records its part as its segment.
RowSpec merge_rows(const std::vector<RowSpec>& parts, const std::vector<size_t>& which) {
  RowSpec m;
  for (size_t j = 0; j < which.size(); ++j) {
    const RowSpec& r = parts[which[j]];
    const int64_t start = static_cast<int64_t>(m.ids.size()), n = static_cast<int64_t>(r.ids.size());
    m.ids.insert(m.ids.end(), r.ids.begin(), r.ids.end());
    m.pos.insert(m.pos.end(), r.pos.begin(), r.pos.end());
    m.response.insert(m.response.end(), r.response.begin(), r.response.end());
    if (r.side.empty()) m.side.insert(m.side.end(), static_cast<size_t>(n), uint8_t{0});
    else m.side.insert(m.side.end(), r.side.begin(), r.side.end());
    m.segment.insert(m.segment.end(), static_cast<size_t>(n), static_cast<int32_t>(j));
    for (const Scored& sc : r.scored) m.scored.push_back({sc.source + start, sc.target + start, sc.sequence});
  }
  return m;
}

int64_t round_up(int64_t n, int64_t m) { return m > 1 ? (n + m - 1) / m * m : n; }

}  // namespace

int64_t padded_length(int64_t longest, int64_t rows, const BatchOptions& opt) {
  int64_t T = round_up(std::max<int64_t>(longest, 1), opt.pad_to_multiple_of);
  if (opt.tokens_multiple_of > 1 && rows > 0)
    while ((rows * T) % opt.tokens_multiple_of != 0) T += std::max<int64_t>(opt.pad_to_multiple_of, 1);
  return T;
}

Batch make_batch(const TokenizedDataset& data, const std::vector<size_t>& examples, const BatchOptions& opt) {
  if (examples.empty()) throw Error("empty batch");
  Batch b;
  b.examples = examples;
  b.paired = data.row(examples[0]).paired;
  b.kind = b.paired ? opt.layout : BatchLayout::Concatenated;
  b.pairs = static_cast<int64_t>(examples.size());

  std::vector<RowSpec> rows;
  const int64_t B = b.pairs;
  auto plain_row = [&](std::span<const int32_t> prompt, std::span<const int32_t> completion, int64_t seq) {
    RowSpec r;
    r.ids.assign(prompt.begin(), prompt.end());
    r.ids.insert(r.ids.end(), completion.begin(), completion.end());
    r.response.assign(r.ids.size(), 0);
    for (size_t i = 0; i < r.ids.size(); ++i) r.pos.push_back(static_cast<int64_t>(i));
    // A completion token at slot 0 (empty prompt) has no predecessor and cannot be scored, as in TRL.
    for (size_t t = std::max<size_t>(prompt.size(), 1); t < r.ids.size(); ++t) {
      r.response[t] = 1;
      r.scored.push_back({static_cast<int64_t>(t) - 1, static_cast<int64_t>(t), seq});
    }
    return r;
  };
  if (b.kind == BatchLayout::Concatenated) {
    for (int64_t k = 0; k < B; ++k) {
      rows.push_back(plain_row(data.prompt(examples[k]), data.chosen(examples[k]), k));
      if (b.paired && opt.score_chosen_prompt)
        for (int64_t t = 1; t < static_cast<int64_t>(data.prompt(examples[k]).size()); ++t) rows.back().scored.push_back({t - 1, t, 2 * B + k});
    }
    if (b.paired)
      for (int64_t k = 0; k < B; ++k) rows.push_back(plain_row(data.prompt(examples[k], true), data.rejected(examples[k]), B + k));
  } else {
    for (int64_t k = 0; k < B; ++k) {
      const size_t e = examples[static_cast<size_t>(k)];
      if (data.row(e).chosen_prompt_start != data.row(e).rejected_prompt_start)
        throw Error("prefix-shared batches need both rows to keep the same prompt; use truncation_mode keep_start",
                    {.line = data.row(e).line});
      auto p = data.prompt(e), c = data.chosen(e), rj = data.rejected(e);
      RowSpec r;
      r.ids.assign(p.begin(), p.end());
      r.ids.insert(r.ids.end(), c.begin(), c.end());
      r.ids.insert(r.ids.end(), rj.begin(), rj.end());
      const size_t P = p.size(), C = c.size(), R = rj.size();
      for (size_t i = 0; i < P + C; ++i) r.pos.push_back(static_cast<int64_t>(i));
      for (size_t i = 0; i < R; ++i) r.pos.push_back(static_cast<int64_t>(P + i));
      r.response.assign(P + C + R, 0);
      r.side.assign(P + C + R, 0);
      for (size_t i = P; i < P + C; ++i) r.side[i] = 1;
      for (size_t i = P + C; i < P + C + R; ++i) r.side[i] = 2;
      const int64_t last_prompt = static_cast<int64_t>(P) - 1;
      if (opt.score_chosen_prompt)
        for (int64_t i = 1; i < static_cast<int64_t>(P); ++i) r.scored.push_back({i - 1, i, 2 * B + k});
      for (size_t i = P; i < P + C; ++i)
        if (i > 0) r.scored.push_back({static_cast<int64_t>(i) - 1, static_cast<int64_t>(i), k});
      for (size_t i = P + C; i < P + C + R; ++i) {
        int64_t src = i == P + C ? last_prompt : static_cast<int64_t>(i) - 1;
        if (src >= 0) r.scored.push_back({src, static_cast<int64_t>(i), B + k});
      }
      rows.push_back(std::move(r));
    }
  }

  if (opt.padding_free && rows.size() > 1) {
    std::vector<int64_t> lengths;
    for (const auto& r : rows) lengths.push_back(static_cast<int64_t>(r.ids.size()));
    std::vector<RowSpec> merged;
    for (const auto& which : padding_free_rows(lengths, opt.padding_free_tokens)) merged.push_back(merge_rows(rows, which));
    rows = std::move(merged);
  }
  const bool explicit_visibility = b.kind == BatchLayout::PrefixShared || opt.padding_free;

  int64_t T = 0;
  for (const auto& r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(r.ids.size()));
  const int64_t Rn = static_cast<int64_t>(rows.size());
  T = padded_length(T, Rn, opt);
  at::Tensor ids = at::full({Rn, T}, opt.pad_id, at::kLong);
  at::Tensor pos = at::zeros({Rn, T}, at::kLong);
  at::Tensor key = at::zeros({Rn, T}, at::kBool);
  at::Tensor resp = at::zeros({Rn, T}, at::kBool);
  at::Tensor vis;
  if (explicit_visibility) vis = at::zeros({Rn, T, T}, at::kBool);
  std::vector<int64_t> src, tgt, seq;
  auto ia = ids.accessor<int64_t, 2>();
  auto pa = pos.accessor<int64_t, 2>();
  auto ka = key.accessor<bool, 2>();
  auto ra = resp.accessor<bool, 2>();
  for (int64_t i = 0; i < Rn; ++i) {
    const RowSpec& r = rows[static_cast<size_t>(i)];
    const int64_t n = static_cast<int64_t>(r.ids.size());
    const int64_t off = opt.pad_side == PadSide::Left ? T - n : 0;
    for (int64_t t = 0; t < n; ++t) {
      ia[i][off + t] = r.ids[static_cast<size_t>(t)];
      pa[i][off + t] = r.pos[static_cast<size_t>(t)];
      ka[i][off + t] = true;
      ra[i][off + t] = r.response[static_cast<size_t>(t)] != 0;
    }
    b.real_tokens += n;
    for (const Scored& sc : r.scored) {
      src.push_back(i * T + off + sc.source);
      tgt.push_back(r.ids[static_cast<size_t>(sc.target)]);
      seq.push_back(sc.sequence);
    }
    if (explicit_visibility) {
      auto va = vis.accessor<bool, 3>();
      // Query q sees key k (both real slots of this row) when k <= q, both belong to the same sequence
      // (padding-free rows) and k is not on the other side: the rejected completion never sees the
      // chosen one; both see the prompt.
      auto side = [&](int64_t t) { return r.side.empty() ? uint8_t{0} : r.side[static_cast<size_t>(t)]; };
      auto segment = [&](int64_t t) { return r.segment.empty() ? 0 : r.segment[static_cast<size_t>(t)]; };
      int64_t seg_start = 0;  // the first slot of q's sequence
      for (int64_t q = 0; q < n; ++q) {
        const bool q_rej = side(q) == 2;
        if (q > 0 && segment(q) != segment(q - 1)) seg_start = q;
        for (int64_t k = seg_start; k <= q; ++k) {
          if (q_rej && side(k) == 1) continue;
          va[i][off + q][off + k] = true;
        }
      }
    }
  }
  b.ids = ids;
  b.positions = pos;
  b.layout.key_mask = key;
  b.layout.visibility = vis;
  if (b.kind == BatchLayout::Concatenated) b.response_mask = resp;
  auto to_tensor = [](const std::vector<int64_t>& v) { return at::tensor(at::ArrayRef<int64_t>(v), at::kLong); };
  b.score_source = to_tensor(src);
  b.score_target = to_tensor(tgt);
  b.score_sequence = to_tensor(seq);
  b.sequences = b.paired ? (opt.score_chosen_prompt ? 3 * B : 2 * B) : B;
  b.padded_tokens = Rn * T;
  return b;
}

}  // namespace prefer::data
