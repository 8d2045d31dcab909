#include "notify/notifier.h"

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/failpoint.h"
#include "base/log.h"
#include "http/outbound.h"
#include "notify/delivery.h"

namespace vigil::notify {

Notifier::Notifier(NotifierOptions o) : o_(std::move(o)) {}

namespace {

// A notification log entry untouched this long is dropped (Alertmanager's
// nflog retention); one whose group does not form again within kClaimWithin
// of a start or reload (its rule is gone, its route changed) is forgotten.
constexpr Duration kSentLogRetention{5LL * 24 * 3600 * 1000};
constexpr Duration kClaimWithin{15 * 60 * 1000};
// Sends a delivery pass makes at once (to different targets, or different groups to one target)...
constexpr size_t kMaxConcurrentSends = 4;
// ...and to one target: one sender is always left for the others, so a hung
// mail server never holds up a page.
constexpr int kMaxSendsPerTarget = 3;

// Hands a pass's groups to its senders, in order, at most kMaxSendsPerTarget
// to one target at a time.
class GroupQueue {
 public:
  explicit GroupQueue(std::vector<const std::vector<OutboxMessage*>*> groups) : groups_(std::move(groups)) {
    taken_.assign(groups_.size(), false);
  }
  // The next group whose target has room, or -1: none is left that this
  // sender may take (the rest belong to targets that are busy, and their
  // senders go on with them).
  int Take() {
    std::lock_guard lock(mu_);
    for (size_t i = first_; i < groups_.size(); ++i) {
      if (taken_[i]) continue;
      int& busy = in_flight_[TargetOf(*groups_[i]->front())];
      if (busy >= kMaxSendsPerTarget) continue;
      ++busy;
      taken_[i] = true;
      while (first_ < groups_.size() && taken_[first_]) ++first_;
      return static_cast<int>(i);
    }
    return -1;
  }
  void Done(int i) {
    std::lock_guard lock(mu_);
    --in_flight_[TargetOf(*groups_[static_cast<size_t>(i)]->front())];
  }
  const std::vector<OutboxMessage*>& operator[](int i) const { return *groups_[static_cast<size_t>(i)]; }
  size_t size() const { return groups_.size(); }

 private:
  std::mutex mu_;
  std::vector<const std::vector<OutboxMessage*>*> groups_;
  std::vector<bool> taken_;
  size_t first_ = 0;  // groups before it are all taken
  std::map<DeliveryTarget, int> in_flight_;
};

// The routing tree, inhibition (declared and from depends_on) and
// maintenance windows of one alerting configuration; errors name the part.
Result<std::unique_ptr<alert::Dispatcher>> BuildDispatcher(
    config::AlertingOptions& alerting, const std::map<std::string, std::vector<std::string>>& depends_on,
    const Clock& clock) {
  // Without a route vigil only forwards to Alertmanagers: a catch-all route
  // with no integrations keeps the dispatcher's bookkeeping uniform.
  if (alerting.route.receiver.empty()) {
    alerting.route.receiver = "(forward-only)";
    alerting.receivers.push_back({"(forward-only)", {}, {}, {}});
  }
  auto route = alert::Route::Build(alerting.route);
  if (!route.ok()) return route.status();
  std::vector<alert::InhibitRule> rules = alert::DependencyInhibitRules(depends_on, alerting.severities);
  for (size_t i = 0; i < alerting.inhibit_rules.size(); ++i) {
    auto r = alert::BuildInhibitRule(alerting.inhibit_rules[i], "alerting.inhibit_rules[" + std::to_string(i) + "]");
    if (!r.ok()) return r.status();
    rules.push_back(std::move(*r));
  }
  std::vector<alert::MaintenanceWindow> windows;
  for (size_t i = 0; i < alerting.maintenance_windows.size(); ++i) {
    auto w = alert::MaintenanceWindow::Build(alerting.maintenance_windows[i],
                                             "alerting.maintenance_windows[" + std::to_string(i) + "]");
    if (!w.ok()) return w.status();
    windows.push_back(std::move(*w));
  }
  return std::make_unique<alert::Dispatcher>(std::shared_ptr<const alert::Route>(std::move(*route)),
                                             alert::Inhibitor(std::move(rules)), std::move(windows), alerting.flap,
                                             clock);
}

}  // namespace

Result<std::unique_ptr<Notifier>> Notifier::Start(NotifierOptions o) {
  auto dispatcher = BuildDispatcher(o.alerting, o.depends_on, *o.clock);
  if (!dispatcher.ok()) return dispatcher.status();
  (*dispatcher)->SetPageHolds(o.page_holds, o.alerting.severities);
  auto outbox = Outbox::Open(o.outbox_path);
  if (!outbox.ok()) return outbox.status();
  o.context.severities = o.alerting.severities;
  std::unique_ptr<Notifier> n(new Notifier(std::move(o)));
  n->outbox_ = std::move(*outbox);
  n->dispatcher_ = std::move(*dispatcher);
  if (auto sent = n->outbox_->LoadSentLog(n->o_.clock->NowMs(), kSentLogRetention); sent.ok()) {
    n->dispatcher_->RestoreSent(std::move(*sent), kClaimWithin);
  } else {
    // Not fatal: at worst firing alerts are announced once more.
    LogError("cannot read the notification log", {{"err", sent.status().message()}});
  }
  if (auto c = n->outbox_->Counts(); c.ok() && c->pending > 0) {
    LogInfo("notifications queued before the restart will be delivered", {{"pending", std::to_string(c->pending)}});
  }
  n->last_forward_.assign(n->o_.alerting.alertmanagers.size(), 0);
  n->forward_failing_.assign(n->o_.alerting.alertmanagers.size(), false);
  n->thread_ = std::thread([p = n.get()] { p->Loop(); });
  return n;
}

Status Notifier::Reload(config::AlertingOptions alerting, std::map<std::string, std::vector<std::string>> depends_on,
                        std::map<std::string, Duration> page_holds) {
  auto dispatcher = BuildDispatcher(alerting, depends_on, *o_.clock);
  if (!dispatcher.ok()) return dispatcher.status();
  (*dispatcher)->SetPageHolds(page_holds, alerting.severities);
  {
    std::lock_guard lock(mu_);
    reload_ = Reloaded{std::move(alerting), std::move(depends_on), std::move(page_holds), std::move(*dispatcher)};
  }
  cv_.notify_all();
  return Status::Ok();
}

Result<std::vector<std::string>> Notifier::AnnouncementReceivers(const Labels& labels) const {
  auto route = alert::Route::Build(o_.alerting.route);
  if (!route.ok()) return route.status();
  std::vector<std::string> out;
  for (const alert::Route* r : (*route)->Match(labels)) {
    if (std::find(out.begin(), out.end(), r->receiver()) == out.end()) out.push_back(r->receiver());
  }
  return out;
}

Result<std::vector<std::string>> Notifier::Announce(AlertUpdate announcement) {
  Result<std::vector<std::string>> receivers = [&] {
    std::lock_guard dispatch_lock(dispatch_mu_);  // o_.alerting changes under it on a reload
    return AnnouncementReceivers(announcement.labels);
  }();
  if (!receivers.ok()) return receivers.status();
  {
    std::lock_guard lock(mu_);
    announcements_.push_back(std::move(announcement));
  }
  cv_.notify_all();
  return receivers;
}

void Notifier::SetHoldReleased(const std::string& service, bool released) {
  {
    std::lock_guard lock(mu_);
    hold_changes_.emplace_back(service, released);
  }
  cv_.notify_all();
}

// On the loop thread: the new dispatcher takes over the log and every alert,
// so a reload that keeps a route re-sends nothing and loses no resolve.
void Notifier::ApplyReload(Reloaded r) {
  r.dispatcher->SetSilences(silences_);
  for (const auto& service : released_holds_) r.dispatcher->SetHoldReleased(service, true);
  r.dispatcher->RestoreSent(dispatcher_->SentLog(), kClaimWithin);
  for (const auto& a : dispatcher_->Alerts()) r.dispatcher->Update(a);
  dispatcher_ = std::move(r.dispatcher);
  o_.alerting = std::move(r.alerting);
  o_.context.severities = o_.alerting.severities;
  o_.depends_on = std::move(r.depends_on);
  last_forward_.assign(o_.alerting.alertmanagers.size(), 0);
  forward_failing_.assign(o_.alerting.alertmanagers.size(), false);
}

Notifier::~Notifier() { Stop(); }

void Notifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::Update(std::vector<AlertUpdate> alerts) {
  {
    std::lock_guard lock(mu_);
    for (auto& a : alerts) pending_.push_back(std::move(a));
  }
  cv_.notify_all();
}

void Notifier::Render(const alert::Notification& n, std::vector<OutboxMessage>& out) const {
  const config::ReceiverOptions* rc = Receiver(n.receiver);
  if (rc == nullptr) return;  // the config loader refuses unknown receivers
  std::string firing;         // what a delivery first announces, for alert quality
  for (const auto& a : n.alerts) {
    if (!a.resolved()) firing += alert::Fingerprint(a.labels) + "@" + std::to_string(a.starts_at) + "\n";
  }
  for (auto& m : RenderFor(*rc, n, o_.context)) {
    OutboxMessage q;
    q.alerts = firing;
    q.receiver = rc->name;
    q.group_key = n.group_key;
    q.integration = std::move(m.integration);
    q.index = m.index;
    q.payload = std::move(m.payload);
    out.push_back(std::move(q));
  }
}

const config::ReceiverOptions* Notifier::Receiver(const std::string& name) const {
  for (const auto& r : o_.alerting.receivers) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

class Notifier::FailingTargets {
 public:
  std::optional<TimestampMs> Get(const OutboxMessage& m) {
    std::lock_guard lock(mu_);
    auto it = next_attempt_.find(TargetOf(m));
    return it == next_attempt_.end() ? std::nullopt : std::optional<TimestampMs>(it->second);
  }
  void Set(const OutboxMessage& m, TimestampMs next_attempt) {
    std::lock_guard lock(mu_);
    next_attempt_.try_emplace(TargetOf(m), next_attempt);
  }

 private:
  std::mutex mu_;
  std::map<DeliveryTarget, TimestampMs> next_attempt_;
};

// One group's due messages to one target, in queue order. A target that
// fails is not tried again in this pass, by this group or another: its other
// messages wait as long as the failed one, so a dead receiver costs about one
// timeout per pass (one per group already sending), not one per message.
void Notifier::DeliverTo(const std::vector<OutboxMessage*>& messages, FailingTargets& failing_targets,
                         std::vector<Outbox::Outcome>& out) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  for (OutboxMessage* mp : messages) {
    OutboxMessage& m = *mp;
    if (std::optional<TimestampMs> failing = failing_targets.Get(m)) {
      out.push_back({Outbox::Outcome::kRetry, &m, "waiting: an earlier message to this target failed", *failing});
      continue;
    }
    const config::ReceiverOptions* rc = Receiver(m.receiver);
    SendResult o = rc ? Send(*rc, m.integration, m.index, m.payload, o_.send_timeout)
                      : SendResult{SendResult::kDead, "the receiver is no longer configured", std::nullopt};
    TimestampMs now = o_.clock->NowMs();

    std::string outcome = o.kind == SendResult::kDelivered ? "delivered"
                          : o.kind == SendResult::kDead    ? "dead"
                                                           : "retry";
    if (o.kind == SendResult::kDelivered) {
      out.push_back({Outbox::Outcome::kDelivered, &m, "", now});
      LogDebug("notification delivered", {{"receiver", m.receiver},
                                          {"integration", m.integration},
                                          {"latency_ms", std::to_string(now - m.created_ms)}});
    } else if (o.kind == SendResult::kDead) {
      out.push_back({Outbox::Outcome::kDead, &m, o.detail, now});
      LogError("notification rejected for good; kept as a dead letter",
               {{"receiver", m.receiver}, {"integration", m.integration}, {"reason", o.detail}});
    } else {
      // Exponential backoff with jitter (50–100 %), or what the receiver asked for.
      int64_t base = o_.min_backoff.count() << std::min(m.attempts, 20);
      int64_t backoff = std::min<int64_t>(base, o_.max_backoff.count());
      std::uniform_int_distribution<int64_t> jitter(backoff / 2, backoff);
      int64_t wait = o.after ? o.after->count() : jitter(rng);
      out.push_back({Outbox::Outcome::kRetry, &m, o.detail, now + wait});
      failing_targets.Set(m, now + wait);
      LogWarn("notification not delivered; will retry", {{"receiver", m.receiver},
                                                         {"integration", m.integration},
                                                         {"reason", o.detail},
                                                         {"retry_in", FormatDuration(Duration(wait))}});
    }
    if (o_.progress) o_.progress();  // a send that returned, even a failed one, is progress
    std::lock_guard lock(mu_);
    ++counts_[{m.receiver, m.integration, outcome}];
    if (stopping_) break;
  }
}

void Notifier::DeliverDue() {
  auto due = outbox_->Due(o_.clock->NowMs(), 256);
  if (!due.ok()) {
    LogError("cannot read the outbox", {{"err", due.status().message()}});
    return;
  }
  // Different targets and different groups are sent to at the same time, so
  // a slow mail server never holds up a page and a thousand groups do not
  // queue behind each other; one group's messages to a target stay in order.
  std::map<std::tuple<std::string, std::string, int, std::string>, std::vector<OutboxMessage*>> by_group;
  for (auto& m : *due) by_group[{m.receiver, m.integration, m.index, m.group_key}].push_back(&m);
  // Targets taken in turn, so each progresses and none is left alone (at its cap) at the end.
  std::map<DeliveryTarget, std::vector<const std::vector<OutboxMessage*>*>> by_target;
  for (const auto& [group, messages] : by_group) by_target[TargetOf(*messages.front())].push_back(&messages);
  std::vector<const std::vector<OutboxMessage*>*> list;
  for (size_t round = 0; list.size() < by_group.size(); ++round) {
    for (const auto& [target, groups] : by_target) {
      if (round < groups.size()) list.push_back(groups[round]);
    }
  }
  GroupQueue groups(std::move(list));
  std::vector<std::vector<Outbox::Outcome>> outcomes(groups.size());
  FailingTargets failing;
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  auto worker = [&] {
    for (int i = groups.Take(); i >= 0 && !stopping(); i = groups.Take()) {
      DeliverTo(groups[i], failing, outcomes[static_cast<size_t>(i)]);
      groups.Done(i);
    }
  };
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < std::min(groups.size(), kMaxConcurrentSends); ++i) helpers.emplace_back(worker);
  worker();
  for (auto& t : helpers) t.join();
  std::vector<Outbox::Outcome> all;
  for (auto& o : outcomes) all.insert(all.end(), std::make_move_iterator(o.begin()), std::make_move_iterator(o.end()));
  if (Status st = outbox_->Record(all); !st.ok()) {
    // The messages stay in the outbox and are sent again: at least once.
    LogError("cannot record delivery outcomes", {{"err", st.message()}});
  }
}

void Notifier::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<AlertUpdate> updates;
    updates.swap(pending_);
    std::vector<AlertUpdate> announcements = std::exchange(announcements_, {});
    bool reload_silences = std::exchange(silences_changed_, false);
    std::optional<Reloaded> reloaded = std::exchange(reload_, std::nullopt);
    std::vector<std::pair<std::string, bool>> hold_changes = std::exchange(hold_changes_, {});
    lock.unlock();
    if (o_.progress) o_.progress();
    failpoint::HangWhileFlagged("notifier-hang");  // tests: a stuck notifier (docs/deploy.md)
    std::unique_lock dispatch_lock(dispatch_mu_);  // AlertStates() reads the dispatcher whole
    if (reloaded) ApplyReload(std::move(*reloaded));
    for (const auto& [service, released] : hold_changes) {
      if (released)
        released_holds_.insert(service);
      else
        released_holds_.erase(service);
      dispatcher_->SetHoldReleased(service, released);
    }
    if (reload_silences) {
      std::vector<alert::Silence> active;
      if (auto parsed = ParsedSilences(); parsed.ok()) {
        active = std::move(*parsed);
      } else {
        LogError("cannot read silences", {{"err", parsed.status().message()}});
      }
      silences_ = active;
      dispatcher_->SetSilences(std::move(active));
    }
    std::vector<alert::Alert> changed;
    // An alert that fired and resolved between two passes (the loop was
    // busy delivering) is flushed firing before its resolve is applied, as
    // it would have been a pass earlier: a route without group_wait pages
    // every firing the rules saw, not a resolve of a page never sent.
    std::vector<alert::Notification> flushed;
    std::set<std::string> fired_this_pass;
    // Only a batch with a resolve in it pays for the fingerprints.
    const bool any_resolve = std::any_of(updates.begin(), updates.end(), [](const auto& u) { return u.ends_at != 0; });
    for (auto& u : updates) {
      if (any_resolve && u.ends_at == 0) {
        fired_this_pass.insert(alert::Fingerprint(u.labels));
      } else if (!fired_this_pass.empty() && fired_this_pass.count(alert::Fingerprint(u.labels))) {
        for (auto& n : dispatcher_->Flush()) flushed.push_back(std::move(n));
        fired_this_pass.clear();
      }
      alert::Alert a;
      a.labels = std::move(u.labels);
      a.annotations = std::move(u.annotations);
      a.starts_at = u.starts_at;
      a.ends_at = u.ends_at;
      a.value = u.value;
      a.generator_url = u.generator_url.empty() ? o_.context.external_url : std::move(u.generator_url);
      dispatcher_->Update(a);
      changed.push_back(std::move(a));
    }
    dispatch_lock.unlock();  // forwarding waits on the network
    if (!o_.alerting.alertmanagers.empty()) Forward(changed);
    dispatch_lock.lock();
    for (auto& n : dispatcher_->Flush()) flushed.push_back(std::move(n));
    auto sent_changes = dispatcher_->TakeSentChanges();
    std::vector<OutboxMessage> queued;
    for (auto& u : announcements) {
      TimestampMs now = o_.clock->NowMs();
      if (std::any_of(silences_.begin(), silences_.end(), [&](const auto& s) { return s.Mutes(u.labels, now); })) {
        LogInfo("announcement silenced", {{"alertname", std::string(u.labels.Get("alertname"))}});
        continue;
      }
      auto receivers = AnnouncementReceivers(u.labels);
      if (!receivers.ok()) continue;  // Announce() checked the same routes
      alert::Notification n;
      n.group_key = "announcement:" + std::string(u.labels.Get("alertname"));
      n.time_ms = now;
      n.announcement = true;
      alert::Alert a;
      a.labels = u.labels;
      a.annotations = u.annotations;
      a.starts_at = u.starts_at;
      a.generator_url = u.generator_url.empty() ? o_.context.external_url : u.generator_url;
      n.alerts.push_back(std::move(a));
      for (const auto& receiver : *receivers) {
        n.receiver = receiver;
        Render(n, queued);
      }
    }
    dispatch_lock.unlock();
    for (const auto& n : flushed) Render(n, queued);
    if (Status st = outbox_->EnqueueAll(queued, o_.clock->NowMs()); !st.ok()) {
      // The disk is full or the database broken: say so loudly. Nor is the
      // log saved, so after a restart these groups are notified again.
      LogError("cannot queue notifications", {{"count", std::to_string(queued.size())}, {"err", st.message()}});
    } else if (Status sl = outbox_->SaveSentLog(sent_changes); !sl.ok()) {
      // Saved after the notifications are queued: a crash in between repeats
      // one rather than losing it.
      LogError("cannot save the notification log", {{"err", sl.message()}});
    }
    DeliverDue();
    TimestampMs now = o_.clock->NowMs();
    TimestampMs next = now + 1000;  // bounded: maintenance windows and silences end on their own
    if (auto f = dispatcher_->NextFlush()) next = std::min(next, *f);
    if (auto a = outbox_->NextAttempt(); a.ok() && *a) next = std::min(next, **a);
    lock.lock();
    auto work = [&] { return stopping_ || !pending_.empty() || !announcements_.empty() || !hold_changes_.empty(); };
    if (work()) continue;
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<TimestampMs>(1, next - now)), work);
  }
}

void Notifier::Forward(const std::vector<alert::Alert>& changed) {
  TimestampMs now = o_.clock->NowMs();
  bool news = false;
  for (const auto& a : changed) {
    std::string fp = alert::Fingerprint(a.labels);
    auto it = forwarded_.find(fp);
    bool differs = it == forwarded_.end() || it->second.alert.resolved() != a.resolved();
    if (it != forwarded_.end() && a.resolved() && it->second.alert.resolved()) continue;  // already told
    if (it == forwarded_.end() && a.resolved()) continue;                                 // never told it fired
    news = news || differs;
    forwarded_[fp] = {a, a.resolved() ? now : 0};
  }
  // Resolved alerts are repeated for 15 minutes (as Prometheus), then dropped.
  std::erase_if(forwarded_, [&](const auto& kv) {
    return kv.second.resolved_seen_ms != 0 && now - kv.second.resolved_seen_ms > 15 * 60 * 1000;
  });
  if (forwarded_.empty()) return;
  nlohmann::json body = nlohmann::json::array();
  for (const auto& [fp, f] : forwarded_) {
    nlohmann::json labels = nlohmann::json::object(), annotations = nlohmann::json::object();
    for (const auto& l : f.alert.labels) labels[l.name] = l.value;
    for (const auto& l : f.alert.annotations) annotations[l.name] = l.value;
    nlohmann::json a = {{"labels", labels},
                        {"annotations", annotations},
                        {"startsAt", FormatTime(f.alert.starts_at)},
                        {"generatorURL", f.alert.generator_url}};
    // A firing alert's endsAt lies a few resend intervals ahead, so Alertmanager
    // resolves it by itself if vigil goes away (Prometheus does the same).
    a["endsAt"] = FormatTime(f.alert.resolved() ? f.alert.ends_at
                                                : now + 4 * o_.alerting.alertmanagers[0].resend_interval.count());
    body.push_back(std::move(a));
  }
  std::string text = body.dump();
  for (size_t i = 0; i < o_.alerting.alertmanagers.size(); ++i) {
    const auto& am = o_.alerting.alertmanagers[i];
    if (!news && now - last_forward_[i] < am.resend_interval.count()) continue;
    std::string base = am.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    SendResult r = PostJson(base + "/api/v2/alerts", text, o_.send_timeout);
    if (o_.progress) o_.progress();
    std::string outcome = r.kind == SendResult::kDelivered ? "delivered" : "retry";
    std::optional<http::ParsedUrl> parsed = http::ParseUrl(base);
    std::string target = parsed ? parsed->redacted : "?";
    if (r.kind == SendResult::kDelivered) {
      last_forward_[i] = now;
      if (forward_failing_[i]) LogInfo("forwarding to Alertmanager works again", {{"alertmanager", target}});
      forward_failing_[i] = false;
    } else {
      // The next loop (at most a second away) tries again: nothing is lost,
      // since the whole current state is sent each time.
      if (!forward_failing_[i]) {
        LogWarn("cannot forward alerts to Alertmanager", {{"alertmanager", target}, {"reason", r.detail}});
      }
      forward_failing_[i] = true;
    }
    std::lock_guard lock(mu_);
    ++counts_[{"alertmanager", "alertmanager", outcome}];
  }
}

void Notifier::AppendMetrics(MetricBatch& out) const {
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> counts;
  {
    std::lock_guard lock(mu_);
    counts = counts_;
  }
  for (const auto& [key, n] : counts) {
    const auto& [receiver, integration, outcome] = key;
    out.AddCounter("vigil_notifications_total",
                   "Notification delivery attempts by receiver, integration and outcome (delivered, retry, dead).",
                   Labels{{"integration", integration}, {"outcome", outcome}, {"receiver", receiver}},
                   static_cast<double>(n));
  }
  if (auto c = outbox_->Counts(); c.ok()) {
    out.AddGauge("vigil_notifications_pending", "Notifications in the outbox, not yet accepted by their receiver.", {},
                 static_cast<double>(c->pending));
    out.AddGauge("vigil_notifications_dead_letters", "Notifications a receiver rejected for good (kept for review).",
                 {}, static_cast<double>(c->dead));
  }
}

Result<std::vector<Outbox::HistoryEntry>> Notifier::History(int limit) const { return outbox_->History(limit); }

Result<std::string> Notifier::PutSilence(Outbox::StoredSilence s) {
  if (s.matchers.empty()) return Status::Error("a silence needs at least one matcher");
  for (const auto& m : s.matchers) {
    if (auto parsed = alert::ParseMatchers(m); !parsed.ok()) return parsed.status();
  }
  TimestampMs now = o_.clock->NowMs();
  if (s.starts_at == 0) s.starts_at = now;
  if (s.ends_at <= s.starts_at) return Status::Error("the silence must end after it starts");
  if (s.ends_at <= now) return Status::Error("the silence's end is in the past");
  if (s.id.empty()) {
    std::random_device rd;
    std::uniform_int_distribution<int> hex(0, 15);
    const char* digits = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s.id += '-';
      s.id += digits[hex(rd)];
    }
  } else {
    auto all = outbox_->Silences();
    if (!all.ok()) return all.status();
    bool known = false;
    for (const auto& x : *all) known = known || x.id == s.id;
    if (!known) return Status::Error("silence " + s.id + " not found");
  }
  s.updated_at = now;
  if (Status st = outbox_->SaveSilence(s); !st.ok()) return st;
  LogInfo("silence saved", {{"id", s.id}, {"created_by", s.created_by}, {"ends", FormatTime(s.ends_at)}});
  {
    std::lock_guard lock(mu_);
    silences_changed_ = true;
  }
  cv_.notify_all();
  return s.id;
}

Status Notifier::ExpireSilence(const std::string& id) {
  auto all = outbox_->Silences();
  if (!all.ok()) return all.status();
  for (auto s : *all) {
    if (s.id != id) continue;
    TimestampMs now = o_.clock->NowMs();
    if (s.ends_at <= now) return Status::Error("silence " + id + " already expired");
    s.ends_at = std::max(s.starts_at, now);
    s.updated_at = now;
    if (Status st = outbox_->SaveSilence(s); !st.ok()) return st;
    LogInfo("silence expired", {{"id", id}});
    {
      std::lock_guard lock(mu_);
      silences_changed_ = true;
    }
    cv_.notify_all();
    return Status::Ok();
  }
  return Status::Error("silence " + id + " not found");
}

Result<std::vector<Outbox::StoredSilence>> Notifier::Silences() const { return outbox_->Silences(); }

Result<std::vector<alert::Silence>> Notifier::ParsedSilences() const {
  auto stored = outbox_->Silences();
  if (!stored.ok()) return stored.status();
  std::vector<alert::Silence> out;
  for (const auto& st : *stored) {
    alert::Silence sil{st.id, {}, st.starts_at, st.ends_at, st.created_by, st.comment};
    for (const auto& m : st.matchers) {
      // Stored matchers were checked when the silence was put.
      if (auto parsed = alert::ParseMatchers(m); parsed.ok()) {
        sil.matchers.insert(sil.matchers.end(), parsed->begin(), parsed->end());
      }
    }
    out.push_back(std::move(sil));
  }
  return out;
}

std::vector<alert::AlertState> Notifier::AlertStates() const {
  std::lock_guard lock(dispatch_mu_);
  return dispatcher_->AlertStates();
}

}  // namespace vigil::notify
