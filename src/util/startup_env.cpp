#include "util/startup_env.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "util/strings.h"

namespace prefer {

namespace {

constexpr const char* kHugeTlb = "glibc.malloc.hugetlb";

// GLIBC_TUNABLES is a colon-separated list of name=value.
std::vector<std::string> entries(const char* tunables) {
  std::vector<std::string> out;
  if (tunables == nullptr) return out;
  const std::string s = tunables;
  for (size_t b = 0; b <= s.size();) {
    const size_t e = std::min(s.find(':', b), s.size());
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

bool is_hugetlb(const std::string& entry) { return entry.rfind(std::string(kHugeTlb) + "=", 0) == 0; }

}  // namespace

std::optional<std::string> tunables_with_huge_pages(const char* current) {
  std::vector<std::string> es = entries(current);
  for (const std::string& e : es)
    if (is_hugetlb(e)) return std::nullopt;
  es.push_back(std::string(kHugeTlb) + "=1");
  return join(es, ":");
}

std::string tunables_without_huge_pages(const char* current) {
  std::vector<std::string> kept;
  for (const std::string& e : entries(current))
    if (!is_hugetlb(e)) kept.push_back(e);
  return join(kept, ":");
}

bool huge_page_malloc() {
  for (const std::string& e : entries(std::getenv("GLIBC_TUNABLES")))
    if (is_hugetlb(e)) return e != std::string(kHugeTlb) + "=0";
  return false;
}

void restart_with(const StartupEnv& want, char** argv) {
  bool changed = false;
  if (want.passive_omp && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  const char* opt_out = std::getenv("PREFER_HUGE_PAGES");
  if (want.huge_pages && !(opt_out != nullptr && std::string(opt_out) == "0")) {
    if (auto t = tunables_with_huge_pages(std::getenv("GLIBC_TUNABLES"))) {
      ::setenv("GLIBC_TUNABLES", t->c_str(), 1);
      changed = true;
    }
  }
  if (changed) ::execv("/proc/self/exe", argv);  // on failure, carry on as we are
}

}  // namespace prefer
