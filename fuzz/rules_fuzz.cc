// Fuzzes rule-file parsing (YAML, fields, durations, PromQL expressions,
// severities, templates) and, for files that parse, one evaluation of every
// group over a small fixed store: templates expand, alerts change state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/severity.h"
#include "promql/engine.h"
#include "rules/group.h"
#include "rules/rule_file.h"
#include "tsdb/memory.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  vigil::rules::LoadResult r = vigil::rules::ParseRuleFile(text, "fuzz.yml");
  for (const auto* list : {&r.problems, &r.warnings}) {
    for (const auto& p : *list) {
      Check(!p.message.empty() && p.line >= 0 && p.column >= 0);
      Check(p.ToString().rfind("fuzz.yml", 0) == 0);
    }
  }
  if (!r.ok()) return 0;
  size_t rules = 0;
  for (const auto& g : r.groups) {
    Check(!g.name.empty());
    for (const auto& rule : g.rules) {
      Check(rule.parsed_expr != nullptr);
      Check(rule.is_alert() == rule.record.empty());
      // Any severity is kept, except that P0..P3 are stored as critical..low.
      std::string_view sev = rule.labels.Get("severity");
      Check(!vigil::ParsePriority(sev));
      ++rules;
    }
  }
  if (rules > 20) return 0;
  vigil::tsdb::MemoryStorage storage;
  storage.Add(vigil::Labels{{"__name__", "up"}, {"instance", "a"}, {"job", "node"}}, 0, 0);
  storage.Add(vigil::Labels{{"__name__", "up"}, {"instance", "b"}, {"job", "node"}}, 0, 1);
  vigil::promql::EngineOptions eo;
  eo.max_samples = 100000;
  vigil::promql::Engine engine(eo);
  vigil::rules::EvalContext ctx;
  ctx.engine = &engine;
  ctx.querier = [&storage](vigil::TimestampMs mint, vigil::TimestampMs maxt, const vigil::tsdb::ReadHints&) {
    return storage.NewQuerier(mint, maxt);
  };
  for (auto& spec : r.groups) {
    vigil::rules::Group g(spec, vigil::Duration(60000));
    for (int64_t t : {0, 60000}) {
      int failed = g.Eval(t, ctx, [&storage] { return storage.NewAppender(); });
      Check(failed >= 0 && failed <= static_cast<int>(g.rules().size()));
    }
    for (const auto& rule : g.rules()) {
      for (const auto& a : rule->Alerts()) Check(a.labels.Get("alertname") == rule->name());
    }
  }
  return 0;
}
