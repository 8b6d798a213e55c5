// Small string helpers used across layers: joining lists for messages, "did you mean" suggestions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace prefer {

// "512 B", "3.0 KB", "10.5 MB", "2.1 GB" (decimal units).
std::string format_bytes(double bytes);

std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Levenshtein distance (insert, delete, substitute all cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `name` if it is close enough to be a plausible typo (distance <= 1/3 of the
// longer name, clamped to 1..3), else empty. Used for "unknown option 'lerning_rate'; did you
// mean 'learning_rate'?".
std::string suggest_name(std::string_view name, const std::vector<std::string>& candidates);

// Text for an HTML page: & < > " ' as entities.
std::string escape_html(std::string_view s);

}  // namespace prefer
