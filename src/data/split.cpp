#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "data/sampler.h"
#include "util/error.h"

namespace prefer::data {

Split split_rows(const std::vector<std::string>& groups, const SplitOptions& opt) {
  const size_t n = groups.size();
  if (!(opt.test_size > 0)) throw Error("must be above 0", {.field = "test_size"});
  const size_t n_test = opt.test_size < 1 ? static_cast<size_t>(std::ceil(opt.test_size * static_cast<double>(n) - 1e-9))
                                          : static_cast<size_t>(opt.test_size);
  if (opt.test_size >= 1 && opt.test_size != std::floor(opt.test_size))
    throw Error("is a fraction below 1 or a whole number of rows", {.field = "test_size"});
  if (n_test == 0 || n_test >= n)
    throw Error("leaves " + std::string(n_test == 0 ? "no test rows" : "no training rows") + " of " + std::to_string(n),
                {.field = "test_size", .hint = "a fraction such as 0.1, or a count below the number of rows"});

  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < n; ++i) members[groups[i]].push_back(i);
  Split out;
  // Largest remainders: floor of each exact share, then one more to the largest fractional parts.
  std::vector<double> frac;
  size_t given = 0;
  for (const auto& [name, rows] : members) {
    double exact = static_cast<double>(n_test) * static_cast<double>(rows.size()) / static_cast<double>(n);
    size_t k = static_cast<size_t>(std::floor(exact + 1e-9));
    out.groups.push_back({name, rows.size(), k});
    frac.push_back(exact - static_cast<double>(k));
    given += k;
  }
  std::vector<size_t> order(out.groups.size());
  for (size_t g = 0; g < order.size(); ++g) order[g] = g;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  for (size_t k = 0; given < n_test && k < order.size(); ++k)
    if (out.groups[order[k]].test < out.groups[order[k]].rows) {
      ++out.groups[order[k]].test;
      ++given;
    }

  std::vector<char> is_test(n, 0);
  SplitMix64 rng(opt.seed);
  size_t g = 0;
  for (auto& [name, rows] : members) {
    std::vector<size_t> shuffled = rows;
    for (size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[rng.below(i)]);
    for (size_t k = 0; k < out.groups[g].test; ++k) is_test[shuffled[k]] = 1;
    ++g;
  }
  for (size_t i = 0; i < n; ++i) (is_test[i] ? out.test : out.train).push_back(i);
  return out;
}

}  // namespace prefer::data
