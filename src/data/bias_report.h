// What the seed warns about in preference data, measured (`prefer data synth`, `prefer data judge`,
// `prefer data validate --report`):
//   length        in what share of pairs chosen is longer than rejected (characters of the plain text),
//                 and the mean and median chosen/rejected length ratio: a DPO model learns a length bias
//   duplicates    prompts repeated exactly or nearly (data/text_key.h's near key), and repeated pairs
//   near_identical pairs whose chosen and rejected are nearly the same text (word-set Jaccard >= 0.9 on
//                 the near keys): little preference signal in them
//   groups        the spread over a topic/source column when the rows have one (topic, source, category,
//                 domain or subject, at the top level or in meta): not 3,000 pairs all in cardiology (a warning
//                 from 10 rows up, when one value holds more than half)
// Each finding past its threshold becomes a plain-language warning in "warnings".
#pragma once

#include <filesystem>

#include "util/json.h"

namespace prefer::data {

// Reads a preference JSONL/JSON file (any format read_dataset accepts); unpaired rows are paired by
// prompt (desirable with undesirable) for the length and similarity measures.
Json bias_report(const std::filesystem::path& file);

// The report as a few lines for a terminal.
std::string format_bias_report(const Json& report);

}  // namespace prefer::data
