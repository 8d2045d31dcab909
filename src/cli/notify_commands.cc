#include "cli/notify_commands.h"

#include <unistd.h>

#include <cstdio>

#include "config/config.h"
#include "notify/delivery.h"

namespace vigil::cli {

int NotifyTest(const std::optional<std::string>& config_path, const std::string& receiver,
               const std::string& severity) {
  config::LoadResult r = config_path ? config::LoadFile(*config_path) : config::LoadDefault();
  if (!r.ok()) {
    for (const auto& p : r.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    return 1;
  }
  if (!r.config.alerting) {
    std::fprintf(stderr, "error: %s has no alerting section\n", r.config.source.c_str());
    return 1;
  }
  const config::ReceiverOptions* rc = nullptr;
  std::string names;
  for (const auto& x : r.config.alerting->receivers) {
    if (x.name == receiver) rc = &x;
    names += (names.empty() ? "" : ", ") + x.name;
  }
  if (rc == nullptr) {
    std::fprintf(stderr, "error: no receiver \"%s\" (configured: %s)\n", receiver.c_str(), names.c_str());
    return 1;
  }
  notify::PayloadContext ctx;
  ctx.external_url = "http://" + r.config.global.listen;
  ctx.severities = r.config.alerting->severities;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) ctx.host = host;
  auto messages = notify::RenderFor(*rc, notify::TestNotification(receiver, severity, SystemClock().NowMs()), ctx);
  if (messages.empty()) {
    std::fprintf(stderr, "error: receiver \"%s\" has no integration that sends a %s alert\n", receiver.c_str(),
                 severity.c_str());
    return 1;
  }
  int failed = 0;
  for (const auto& m : messages) {
    notify::SendResult s = notify::Send(*rc, m.integration, m.index, m.payload, Duration(10000));
    bool ok = s.kind == notify::SendResult::kDelivered;
    failed += ok ? 0 : 1;
    std::printf("%-10s #%d  %s%s%s\n", m.integration.c_str(), m.index, ok ? "delivered" : "FAILED", ok ? "" : ": ",
                s.detail.c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace vigil::cli
