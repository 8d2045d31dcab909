// Fuzzes the template parser and executor: any text either fails to parse
// with a "LINE:COL: reason" error or runs, to output or to a positioned error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "template/template.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Positioned(const std::string& m) {
  size_t colon = m.find(':');
  return colon != std::string::npos && colon > 0 && m[0] >= '1' && m[0] <= '9';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = vigil::tmpl::Template::ParseAlert(text);
  if (!t.ok()) {
    Check(Positioned(t.status().message()));
    return 0;
  }
  vigil::tmpl::AlertData d;
  d.labels = vigil::Labels{{"instance", "host:9100"}, {"job", "node"}};
  d.value = 1234.5;
  d.external_labels = vigil::Labels{{"env", "prod"}};
  d.external_url = "http://vigil:9810";
  auto out = t->ExecuteAlert(d);
  if (!out.ok()) {
    const std::string m = out.status().message();
    Check(Positioned(m) || m.find("steps") != std::string::npos || m.find("exceeds") != std::string::npos);
  }
  std::string expanded = vigil::tmpl::ExpandAlert(text, d, "Fuzz");
  Check(out.ok() ? expanded == *out : expanded.rfind("<error expanding template: ", 0) == 0);
  return 0;
}
