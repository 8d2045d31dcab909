// Fuzzes remote read's request path: snappy, the ReadRequest protobuf, the
// matchers (RE2, anchored) and response type, then the answer from a small
// store in both response types. Bad input must fail with 400; what parses
// must hold the checked invariants and be answered.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/remote_read.h"
#include "tsdb/memory.h"
#include "tsdb/tsdb.h"

namespace {

const vigil::tsdb::MemoryStorage& Store() {
  static const vigil::tsdb::MemoryStorage* store = [] {
    auto* s = new vigil::tsdb::MemoryStorage();
    for (int i = 0; i < 250; ++i) {
      s->Add({{"__name__", "up"}, {"job", "node"}}, 1000 * i, i % 3 ? 1 : 0);
      s->Add({{"__name__", "cpu_seconds_total"}, {"cpu", "0"}}, 1000 * i, i * 0.25);
    }
    s->Add({{"__name__", "up"}, {"job", "gone"}}, 5000, vigil::tsdb::StaleNaN());
    return s;
  }();
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const vigil::Labels external{{"site", "fra"}};
  vigil::api::RemoteReadLimits limits;
  limits.max_request_bytes = 1 << 20;
  limits.max_samples = 2000;
  limits.max_frame_bytes = 512;
  vigil::Result<vigil::api::ReadPlan> plan = vigil::api::ParseReadRequest(in, external, limits.max_request_bytes);
  if (plan.ok()) {
    if (plan->queries.empty()) std::abort();
    for (const auto& q : plan->queries) {
      if (q.end < q.start || q.matchers.empty()) std::abort();
      bool selective = false;
      for (const auto& m : q.matchers) selective |= !m.MatchesEmpty();
      if (!selective) std::abort();
    }
  }
  vigil::http::Request r;
  r.method = "POST";
  r.path = "/api/v1/read";
  r.body = std::string(in);
  vigil::promql::QuerierFactory storage = [](vigil::TimestampMs mint, vigil::TimestampMs maxt,
                                             const vigil::tsdb::ReadHints&) { return Store().NewQuerier(mint, maxt); };
  vigil::http::Response resp = vigil::api::RemoteRead(r, storage, external, limits);
  if (!plan.ok() && resp.status != 400) std::abort();
  if (plan.ok() && resp.status != 200 && resp.status != 400) std::abort();
  return 0;
}
