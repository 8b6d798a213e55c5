// The implicit prompt of preference data that has only `chosen` and `rejected`: their shared prefix,
// as TRL's extract_prompt computes it.
#pragma once

#include "data/example.h"

namespace prefer::data {

// Text: the longest common prefix of characters (code points); a space just before the split moves
// into the completions (TRL keeps " answer" together). Conversations: the longest common prefix of
// whole messages. When one side is a prefix of the other, TRL leaves the last shared unit in the
// completions (its loop ends one short); we do the same so the ids match TRL's.
// Sets ex.prompt and shortens ex.chosen / ex.rejected. Pre-tokenized or already-prompted examples are
// left alone.
void extract_prompt(Example& ex);

}  // namespace prefer::data
