// Fuzzes relabel configs: the input is read as YAML, parsed with
// relabel::ParseRules and applied to a fixed label set. Problems must name a
// field and a message; whatever parses must apply to any labels, and a kept
// series must come out sorted, without empty values or duplicate names.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/labels.h"
#include "relabel/relabel.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: config.cc reports these as "invalid YAML"
  }
  std::vector<vigil::relabel::ParseProblem> problems;
  std::vector<vigil::relabel::Rule> rules;
  try {
    rules = vigil::relabel::ParseRules(root, "relabel_configs", &problems);
  } catch (const YAML::Exception&) {
    std::abort();  // ParseRules must not let yaml-cpp's exceptions out
  }
  for (const auto& p : problems) {
    Check(!p.field.empty() && !p.message.empty() && p.line >= 0 && p.column >= 0);
  }
  for (const auto& r : rules) Check(r.compiled != nullptr);
  vigil::Labels labels{{"__name__", "http_requests_total"},
                       {"job", "api"},
                       {"instance", "web-1:9100"},
                       {"code", "200"},
                       {"method", "GET"},
                       {"path", "/api/v1/query"},
                       {"owner", "\xc3\x84rger"},
                       {"bad", "a\xff"},
                       {"empty", ""}};
  if (vigil::relabel::Apply(rules, &labels)) {
    const auto& list = labels.list();
    for (size_t i = 0; i < list.size(); ++i) {
      Check(!list[i].value.empty());
      Check(i == 0 || list[i - 1].name < list[i].name);
    }
  }
  return 0;
}
