// Dispatcher::AlertStates(): the dispatcher's view for GET /api/v2/alerts, kept
// apart from the timers in dispatch.cc.
#include "alert/dispatch.h"

namespace vigil::alert {

std::vector<AlertState> Dispatcher::AlertStates() const {
  TimestampMs now = clock_.NowMs();
  std::vector<const Alert*> firing = FiringAlerts();  // once: StateOf() per alert would be quadratic
  Inhibitor::Index inhibition = inhibitor_.BuildIndex(firing);
  std::vector<AlertState> out;
  out.reserve(firing.size());
  for (const Alert* a : firing) {
    AlertState s;
    s.alert = *a;
    for (const auto& sil : silences_) {
      if (sil.Mutes(a->labels, now)) s.mute.silenced_by.push_back(sil.id);
    }
    for (const auto& w : windows_) {
      if (w.Mutes(a->labels, now)) {
        s.mute.maintenance = w.name();
        break;
      }
    }
    for (const Alert* src : inhibition.Sources(a->labels)) s.inhibited_by.push_back(Fingerprint(src->labels));
    s.mute.inhibited = !s.inhibited_by.empty();
    auto f = flaps_.find(Fingerprint(a->labels));
    s.mute.flapping = f != flaps_.end() && f->second.flapping;
    for (const Route* r : root_->Match(a->labels)) s.receivers.push_back(r->receiver());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace vigil::alert
