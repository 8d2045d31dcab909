// Fuzzes the JSON vigil takes from peers on Alertmanager's API: the alert
// ingest (POST /api/v2/alerts, notify/ingest.h) and PostableSilence
// (POST /api/v2/silences, notify/api.h). Nothing may throw or crash; what is
// taken must be well formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/time.h"
#include "notify/api.h"
#include "notify/ingest.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil;
  std::string body(reinterpret_cast<const char*>(data), size);

  FakeClock clock(1795435200000);
  size_t taken = 0;
  notify::AlertIngest ingest(
      [&](std::vector<notify::AlertUpdate> alerts) {
        for (const auto& a : alerts) {
          Check(!a.labels.empty());
          Check(a.ends_at == 0 || a.ends_at >= a.starts_at || a.ends_at <= clock.NowMs());
          ++taken;
        }
      },
      &clock);
  Status st = ingest.Post(body);
  Check(st.ok() || !st.message().empty());
  // A day later every alert still held must end after now.
  clock.Advance(Duration(24LL * 3600 * 1000));
  (void)ingest.ExpireDue();
  for (const auto& [fp, posted] : ingest.Snapshot()) Check(posted.ends_at > clock.NowMs());
  Check(ingest.active() <= taken);

  auto silence = notify::ParsePostableSilence(body);
  if (silence.ok()) {
    Check(!silence->matchers.empty());
    Check(!silence->created_by.empty());
  } else {
    Check(!silence.status().message().empty());
  }
  return 0;
}
