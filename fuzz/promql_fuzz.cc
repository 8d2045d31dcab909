// Fuzzes the PromQL parser (promql::ParseExpr, ParseMetricSelector) and the
// printer: whatever parses must format to text that parses to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/ast.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Errors read "line:col: parse error: reason".
void CheckError(const vigil::Status& s) {
  Check(!s.ok());
  Check(s.message().find(": parse error: ") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto expr = vigil::promql::ParseExpr(text);
  if (!expr.ok()) {
    CheckError(expr.status());
  } else {
    std::string formatted = vigil::promql::Format(**expr);
    auto again = vigil::promql::ParseExpr(formatted);
    Check(again.ok());
    Check(vigil::promql::Format(**again) == formatted);
    Check(vigil::promql::Format(*(*expr)->Clone()) == formatted);
    Check((*expr)->pos.start >= 0 && (*expr)->pos.end <= static_cast<int>(size));
  }

  auto matchers = vigil::promql::ParseMetricSelector(text);
  if (!matchers.ok()) CheckError(matchers.status());
  return 0;
}
