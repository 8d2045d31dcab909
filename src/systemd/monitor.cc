#include "systemd/monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "systemd/sd_bus_util.h"

namespace vigil::systemd {
namespace {

using bus::kDest;
using bus::kManagerIface;
using bus::kManagerPath;
using bus::kServiceIface;
using bus::kUnitIface;
using bus::ScopedError;

std::string Errno(int r) { return std::strerror(r < 0 ? -r : r); }

std::string BusError(const sd_bus_error& e, int r) {
  if (e.message != nullptr) return e.message;
  if (e.name != nullptr) return e.name;
  return Errno(r);
}

struct BusMessage {
  sd_bus_message* m = nullptr;
  ~BusMessage() { sd_bus_message_unref(m); }
};

// Reads an a{sv} of properties into `state`; unknown keys are skipped.
// Returns the names of tracked properties it applied, or a negative errno.
int ReadProperties(sd_bus_message* m, UnitState& state, std::set<std::string>* applied) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read_basic(m, 's', &key)) < 0) return r;
    if (!IsTrackedProperty(key)) {
      if ((r = sd_bus_message_skip(m, "v")) < 0) return r;
    } else {
      char type = 0;
      const char* contents = nullptr;
      if ((r = sd_bus_message_peek_type(m, &type, &contents)) < 0) return r;
      if ((r = sd_bus_message_enter_container(m, 'v', contents)) < 0) return r;
      if (contents[0] == 's') {
        const char* v = nullptr;
        if ((r = sd_bus_message_read_basic(m, 's', &v)) < 0) return r;
        ApplyString(state, key, v);
      } else if (contents[0] == 'u') {
        uint32_t v = 0;
        if ((r = sd_bus_message_read_basic(m, 'u', &v)) < 0) return r;
        ApplyUint(state, key, v);
      } else if (contents[0] == 't') {
        uint64_t v = 0;
        if ((r = sd_bus_message_read_basic(m, 't', &v)) < 0) return r;
        ApplyUint(state, key, v);
      } else if (std::strcmp(contents, "(uo)") == 0) {  // Job: (id, path); id 0 when none is pending
        uint32_t id = 0;
        const char* job_path = nullptr;
        if ((r = sd_bus_message_read(m, "(uo)", &id, &job_path)) < 0) return r;
        ApplyUint(state, key, id);
      } else {
        if ((r = sd_bus_message_skip(m, contents)) < 0) return r;
      }
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
      if (applied) applied->insert(key);
    }
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

// What is worth an event: states, restarts, the main process. Counters
// (memory, CPU) only move with the periodic refresh.
bool StateDiffers(const UnitState& a, const UnitState& b) {
  return a.active_state != b.active_state || a.sub_state != b.sub_state || a.n_restarts != b.n_restarts ||
         a.main_pid != b.main_pid || a.result != b.result || a.load_state != b.load_state || a.job_id != b.job_id;
}

class MonitorImpl final : public Monitor {
 public:
  explicit MonitorImpl(MonitorOptions o) : o_(std::move(o)) { wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

  ~MonitorImpl() override {
    Stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  void Begin() {
    thread_ = std::thread([this] { Run(); });
  }

  std::string_view name() const override { return "systemd"; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    {
      // The first run waits (within its deadline) for the first look at the
      // units, so readiness and the first stored batch mean real states.
      std::unique_lock lock(mu_);
      if (ctx.deadline != std::chrono::steady_clock::time_point{}) {
        first_sync_cv_.wait_until(lock, ctx.deadline - std::chrono::milliseconds(50),
                                  [&] { return first_sync_done_ || stopping_; });
      }
      for (const auto& [key, detail] : problems_) out.ReportError(key.first, detail, key.second);
    }
    // Stored through the same ordered path as change batches (see Record).
    Record(nullptr);
    Render(out);
    return Status::Ok();
  }

  void Stop() override {
    if (stopping_.exchange(true)) return;
    {
      std::lock_guard lock(mu_);
      first_sync_cv_.notify_all();
    }
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
  }

  void Render(MetricBatch& out) const override {
    std::vector<UnitState> units;
    bool connected;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, u] : units_) units.push_back(u);
      connected = connected_;
    }
    RenderUnits(units, o_.units, o_.probes_ok, out);
    out.AddGauge("vigil_systemd_bus_connected", "1 while vigil is connected to systemd over D-Bus.", {},
                 connected ? 1 : 0);
  }

  std::vector<UnitState> Units() const override {
    std::lock_guard lock(mu_);
    std::vector<UnitState> out;
    for (const auto& [name, u] : units_) out.push_back(u);
    return out;
  }

  std::vector<MainProcess> MainProcesses() const override {
    std::lock_guard lock(mu_);
    std::vector<MainProcess> out;
    for (const auto& [name, u] : units_) {
      if (u.main_pid != 0) out.push_back({u.name, u.service, u.main_pid});
    }
    return out;
  }

 private:
  // --- bookkeeping shared with the scheduler's thread and /metrics (under mu_) ---

  void SetProblem(const std::string& reason, const std::string& target, const std::string& detail) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = problems_.try_emplace({reason, target}, detail);
    if (inserted || it->second != detail) {
      it->second = detail;
      LogFields fields;
      if (!target.empty()) fields.emplace_back("unit", target);
      fields.emplace_back("reason", reason);
      fields.emplace_back("err", detail);
      LogWarn("systemd problem", fields);
    }
  }

  void ClearProblem(const std::string& reason, const std::string& target) {
    std::lock_guard lock(mu_);
    if (problems_.erase({reason, target}) > 0) {
      LogFields fields;
      if (!target.empty()) fields.emplace_back("unit", target);
      fields.emplace_back("reason", reason);
      LogInfo("systemd problem cleared", fields);
    }
  }

  void ClearProblems(const std::string& reason) {
    std::lock_guard lock(mu_);
    for (auto it = problems_.begin(); it != problems_.end();) {
      it = it->first.first == reason ? problems_.erase(it) : std::next(it);
    }
  }

  // Renders and stores one batch with a timestamp later than any before, so
  // change batches (watcher thread) and scheduled ones never arrive out of
  // order. `event`, when set, is published once the batch is stored.
  TimestampMs Record(const collect::Event* event) {
    std::lock_guard lock(record_mu_);
    TimestampMs now = o_.clock->NowMs();
    TimestampMs t = std::max(now, last_recorded_ms_ + 1);
    last_recorded_ms_ = t;
    if (o_.storage != nullptr) {
      MetricBatch batch;
      Render(batch);
      o_.storage->Consume("systemd", batch, t);
    }
    // A service's up changes without a unit change too (a health check of a
    // restarted service passes): rules and observers hear of that as well.
    std::map<std::string, bool> up = ServicesUp(Units(), o_.units, o_.probes_ok);
    const bool up_changed = DiffersFromRecordedLocked(up);
    recorded_up_ = std::move(up);
    if (o_.events != nullptr && (event != nullptr || up_changed)) {
      collect::Event e = event != nullptr ? *event : collect::Event{"systemd", {"vigil_service_up"}, t};
      e.time_ms = t;
      o_.events->Publish(e);
    }
    return t;
  }

  void HealthChanged() override {
    health_changed_ = true;
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  }

  // On the watcher thread after HealthChanged(): records if up changed.
  void RecordIfUpChanged() {
    std::map<std::string, bool> up = ServicesUp(Units(), o_.units, o_.probes_ok);
    bool changed;
    {
      std::lock_guard lock(record_mu_);
      changed = DiffersFromRecordedLocked(up);
    }
    if (changed) Record(nullptr);
  }

  // Under record_mu_. The first recording has nothing to differ from.
  bool DiffersFromRecordedLocked(const std::map<std::string, bool>& up) const {
    return recorded_up_.has_value() && *recorded_up_ != up;
  }

  // --- the watcher thread; only it touches bus_ ---

  void Run() {
    Duration backoff(100);
    while (!stopping_) {
      if (bus_ == nullptr) {
        if (!Connect()) {
          Wait(backoff);
          backoff = std::min(backoff * 2, Duration(10000));
          continue;
        }
        backoff = Duration(100);
        Record(nullptr);
      }
      // Bounded, so a storm of unrelated signals cannot hold back recording.
      int r = 0;
      for (int i = 0; i < 64 && (r = sd_bus_process(bus_, nullptr)) > 0; ++i) {
      }
      if (r < 0) {
        Disconnect("bus_disconnected", "processing the bus: " + Errno(r));
        continue;
      }
      // A method call reads whatever arrives before its reply into sd-bus's
      // queue, where polling the fd would not see it: after any call, go
      // back to sd_bus_process before sleeping.
      if (AfterSignals()) continue;
      if (bus_ == nullptr) continue;
      auto now = std::chrono::steady_clock::now();
      if (now >= next_refresh_) {
        RefreshAll(/*cgroup_only=*/true);
        next_refresh_ = now + o_.refresh_interval;
        if (changed_) {
          PublishChanges();
        } else {
          Record(nullptr);
        }
        continue;
      }
      if (r > 0) continue;  // the bound above was hit: more is queued
      if (health_changed_.exchange(false)) {
        RecordIfUpChanged();
        continue;
      }
      PollOnce();
    }
    if (bus_ != nullptr) {
      bus_ = sd_bus_flush_close_unref(bus_);
    }
  }

  // Waits for bus traffic, the refresh deadline or Stop(). sd_bus_wait cannot
  // be woken from another thread, so the bus fd is polled beside an eventfd.
  void PollOnce() {
    int fd = sd_bus_get_fd(bus_);
    int events = sd_bus_get_events(bus_);
    uint64_t bus_timeout_us = UINT64_MAX;
    (void)sd_bus_get_timeout(bus_, &bus_timeout_us);
    auto now = std::chrono::steady_clock::now();
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(next_refresh_ - now).count();
    ms = std::clamp<int64_t>(ms, 0, 60000);
    if (bus_timeout_us != UINT64_MAX) {
      // An absolute CLOCK_MONOTONIC time in µs.
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t now_us = static_cast<uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
      int64_t bus_ms = bus_timeout_us > now_us ? static_cast<int64_t>((bus_timeout_us - now_us + 999) / 1000) : 0;
      ms = std::min(ms, bus_ms);
    }
    struct pollfd fds[2] = {{fd, static_cast<short>(events < 0 ? POLLIN : events), 0}, {wake_fd_, POLLIN, 0}};
    (void)::poll(fds, 2, static_cast<int>(ms));
    DrainWake(fds[1].revents);
  }

  // Empties the eventfd once a poll saw it: a wake-up left in it (a
  // HealthChanged() whose flag was taken before its write landed) would end
  // every later poll at once. The flags it woke for are read after this.
  void DrainWake(short revents) {
    uint64_t drained;
    if (!stopping_ && (revents & POLLIN)) (void)!::read(wake_fd_, &drained, sizeof drained);
  }

  void Wait(Duration d) {
    struct pollfd p = {wake_fd_, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(d.count()));
    DrainWake(p.revents);
  }

  bool Connect() {
    sd_bus* bus = nullptr;
    int r = o_.bus == Bus::kUser ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
    const char* which = o_.bus == Bus::kUser ? "user" : "system";
    if (r < 0) {
      SetProblem("bus_connect_failed", "", std::string("connecting to the ") + which + " bus: " + Errno(r));
      MarkFirstSync();  // nothing to wait for: the problem is the news
      return false;
    }
    bus_ = bus;
    // Changes of any unit, then new units (a template instance started later) and daemon reloads.
    r = sd_bus_add_match(bus_, nullptr,
                         "type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus."
                         "Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'",
                         &MonitorImpl::OnPropertiesChanged, this);
    if (r >= 0)
      r = sd_bus_match_signal(bus_, nullptr, kDest, kManagerPath, kManagerIface, "UnitNew", &MonitorImpl::OnUnitNew,
                              this);
    if (r >= 0)
      r = sd_bus_match_signal(bus_, nullptr, kDest, kManagerPath, kManagerIface, "Reloading", &MonitorImpl::OnReloading,
                              this);
    // systemd restarting (daemon-reexec, or a user manager that died) drops
    // our subscription while the bus itself stays up.
    if (r >= 0)
      r = sd_bus_add_match(bus_, nullptr,
                           "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                           "member='NameOwnerChanged',arg0='org.freedesktop.systemd1'",
                           &MonitorImpl::OnNameOwnerChanged, this);
    if (r < 0) {
      Disconnect("subscribe_failed", std::string("adding signal matches: ") + Errno(r));
      return false;
    }
    // systemd only emits unit signals while some client is subscribed.
    ScopedError err;
    r = sd_bus_call_method(bus_, kDest, kManagerPath, kManagerIface, "Subscribe", &err.e, nullptr, "");
    if (r < 0) {
      Disconnect("subscribe_failed", std::string("Subscribe: ") + BusError(err.e, r));
      return false;
    }
    ClearProblems("bus_connect_failed");
    ClearProblems("bus_disconnected");
    ClearProblems("subscribe_failed");
    ClearProblems("systemd_gone");
    {
      std::lock_guard lock(mu_);
      connected_ = true;
    }
    LogInfo("connected to systemd", {{"bus", which}});
    Enumerate();
    MarkFirstSync();
    next_refresh_ = std::chrono::steady_clock::now() + o_.refresh_interval;
    return bus_ != nullptr;
  }

  void MarkFirstSync() {
    std::lock_guard lock(mu_);
    first_sync_done_ = true;
    first_sync_cv_.notify_all();
  }

  void Disconnect(const std::string& reason, const std::string& detail) {
    SetProblem(reason, "", detail);
    MarkFirstSync();
    if (bus_ != nullptr) bus_ = sd_bus_flush_close_unref(bus_);
    std::lock_guard lock(mu_);
    connected_ = false;
  }

  // Finds every configured unit: globs through ListUnitsByPatterns (loaded
  // units), plain names through LoadUnit (loads them if systemd has not).
  void Enumerate() {
    std::vector<std::string> globs;
    for (const auto& s : o_.units) {
      if (IsGlob(s.pattern)) globs.push_back(s.pattern);
    }
    std::map<std::string, std::string> found;  // name -> object path
    if (!globs.empty()) {
      ScopedError err;
      BusMessage req, reply;
      int r = sd_bus_message_new_method_call(bus_, &req.m, kDest, kManagerPath, kManagerIface, "ListUnitsByPatterns");
      if (r >= 0) r = sd_bus_message_append_strv(req.m, nullptr);
      std::vector<char*> strv;
      for (auto& g : globs) strv.push_back(g.data());
      strv.push_back(nullptr);
      if (r >= 0) r = sd_bus_message_append_strv(req.m, strv.data());
      if (r >= 0) r = sd_bus_call(bus_, req.m, 0, &err.e, &reply.m);
      if (r < 0) {
        SetProblem("list_units_failed", "", "ListUnitsByPatterns: " + BusError(err.e, r));
      } else {
        ClearProblem("list_units_failed", "");
        r = sd_bus_message_enter_container(reply.m, 'a', "(ssssssouso)");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply.m, 'r', "ssssssouso")) > 0) {
          const char *name, *desc, *load, *active, *sub, *following, *path, *job_type, *job_path;
          uint32_t job_id;
          r = sd_bus_message_read(reply.m, "ssssssouso", &name, &desc, &load, &active, &sub, &following, &path, &job_id,
                                  &job_type, &job_path);
          if (r < 0) break;
          found[name] = path;
          r = sd_bus_message_exit_container(reply.m);
        }
        if (r < 0) SetProblem("list_units_failed", "", "reading ListUnitsByPatterns: " + Errno(r));
      }
    }
    for (const auto& s : o_.units) {
      if (IsGlob(s.pattern)) {
        bool any =
            std::any_of(found.begin(), found.end(), [&](const auto& f) { return MatchesUnit(s.pattern, f.first); });
        if (!any) {
          SetProblem("unit_not_found", s.pattern, "no loaded unit matches " + s.pattern);
        } else {
          ClearProblem("unit_not_found", s.pattern);
        }
        continue;
      }
      ScopedError err;
      BusMessage reply;
      int r = sd_bus_call_method(bus_, kDest, kManagerPath, kManagerIface, "LoadUnit", &err.e, &reply.m, "s",
                                 s.pattern.c_str());
      const char* path = nullptr;
      if (r >= 0) r = sd_bus_message_read(reply.m, "o", &path);
      if (r < 0) {
        SetProblem("load_unit_failed", s.pattern, "LoadUnit " + s.pattern + ": " + BusError(err.e, r));
        continue;
      }
      ClearProblem("load_unit_failed", s.pattern);
      found[s.pattern] = path;
    }
    for (const auto& [name, path] : found) Track(name, path);
  }

  // Starts tracking a unit (if configured) and reads all of its properties.
  void Track(const std::string& name, const std::string& path) {
    const UnitSpec* spec = FindSpec(o_.units, name);
    if (spec == nullptr) return;
    if (IsGlob(spec->pattern)) ClearProblem("unit_not_found", spec->pattern);  // a first instance appeared
    {
      std::lock_guard lock(mu_);
      UnitState& u = units_[name];
      u.name = name;
      u.object_path = path;
      u.service = spec->service;
      paths_[path] = name;
    }
    Fetch(name, path, /*cgroup_only=*/false);
  }

  // GetAll on the unit's interfaces; with cgroup_only just the Service interface.
  // Returns true when a state worth an event changed.
  bool Fetch(const std::string& name, const std::string& path, bool cgroup_only) {
    UnitState copy;
    {
      std::lock_guard lock(mu_);
      auto it = units_.find(name);
      if (it == units_.end()) return false;
      copy = it->second;
    }
    const UnitState before = copy;
    bool unit_read = false;
    std::vector<const char*> ifaces;
    if (!cgroup_only) ifaces.push_back(kUnitIface);
    if (EndsWith(name, ".service")) ifaces.push_back(kServiceIface);
    for (const char* iface : ifaces) {
      ScopedError err;
      BusMessage reply;
      int r = sd_bus_call_method(bus_, kDest, path.c_str(), "org.freedesktop.DBus.Properties", "GetAll", &err.e,
                                 &reply.m, "s", iface);
      if (r >= 0) r = ReadProperties(reply.m, copy, nullptr);
      if (r < 0) {
        SetProblem("get_properties_failed", name, std::string("GetAll ") + iface + ": " + BusError(err.e, r));
        if (!sd_bus_is_open(bus_)) return false;
        continue;
      }
      ClearProblem("get_properties_failed", name);
      if (iface == kUnitIface) unit_read = true;
    }
    if (copy.load_state == "not-found") {
      SetProblem("unit_not_found", name, "unit " + name + " is not found (LoadState=not-found)");
    } else {
      ClearProblem("unit_not_found", name);
    }
    copy.name = name;  // "Id" of an alias is the unit's real name; keep the configured one
    if (unit_read) copy.fetched = true;
    bool changed = StateDiffers(before, copy);
    if (changed) copy.changed_ms = o_.clock->NowMs();
    std::lock_guard lock(mu_);
    units_[name] = std::move(copy);
    return changed;
  }

  void RefreshAll(bool cgroup_only) {
    std::vector<std::pair<std::string, std::string>> all;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, u] : units_) all.emplace_back(name, u.object_path);
    }
    for (const auto& [name, path] : all) {
      if (bus_ == nullptr) return;
      if (Fetch(name, path, cgroup_only)) changed_ = true;
    }
  }

  // Runs after a burst of signals was dispatched. Changes the signals carried
  // are stored and announced first; then new units are fetched and
  // invalidated ones re-read. Returns true when it called the bus: replies
  // may have queued signals that the fd will not announce again.
  bool AfterSignals() {
    PublishChanges();
    bool called = resubscribe_ || reenumerate_ || !new_units_.empty() || !refetch_.empty();
    if (resubscribe_) {
      resubscribe_ = false;
      ScopedError err;
      int r = sd_bus_call_method(bus_, kDest, kManagerPath, kManagerIface, "Subscribe", &err.e, nullptr, "");
      // The name can change owner without this client losing its subscription
      // (seen on a busy user manager): "already subscribed" is success.
      if (r < 0 && sd_bus_error_has_name(&err.e, "org.freedesktop.systemd1.AlreadySubscribed")) r = 0;
      if (r < 0) {
        SetProblem("subscribe_failed", "", std::string("Subscribe after systemd restarted: ") + BusError(err.e, r));
      } else {
        ClearProblem("systemd_gone", "");
        ClearProblem("subscribe_failed", "");
        LogInfo("systemd is back; subscribed again");
      }
    }
    if (reenumerate_) {
      reenumerate_ = false;
      Enumerate();
      changed_ = true;
    }
    for (const auto& [name, path] : new_units_) {
      Track(name, path);
      changed_ = true;
      pending_logs_.push_back({name, "", "", o_.clock->NowMs()});
    }
    new_units_.clear();
    for (const auto& name : refetch_) {
      std::string path;
      {
        std::lock_guard lock(mu_);
        auto it = units_.find(name);
        if (it == units_.end()) continue;
        path = it->second.object_path;
      }
      if (Fetch(name, path, false)) changed_ = true;
    }
    refetch_.clear();
    PublishChanges();
    return called;
  }

  void PublishChanges() {
    if (!changed_) return;
    changed_ = false;
    collect::Event e;
    e.source = "systemd";
    e.metric_names = {
        "node_systemd_unit_state", "node_systemd_service_restart_total", "node_systemd_unit_start_time_seconds",
        "vigil_systemd_unit_info", "vigil_systemd_unit_main_pid",        "vigil_service_up"};
    TimestampMs recorded = Record(&e);
    for (const auto& line : pending_logs_) {
      std::string active = line.active, sub = line.sub;
      if (active.empty()) {  // a unit seen for the first time: log what was fetched
        std::lock_guard lock(mu_);
        if (auto it = units_.find(line.unit); it != units_.end())
          active = it->second.active_state, sub = it->second.sub_state;
      }
      LogDebug("systemd unit changed", {{"unit", line.unit},
                                        {"active_state", active},
                                        {"sub_state", sub},
                                        {"signal_to_recorded_ms", std::to_string(recorded - line.received_ms)},
                                        {"recorded_unix_ms", std::to_string(recorded)}});
    }
    pending_logs_.clear();
  }

  static int OnPropertiesChanged(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<MonitorImpl*>(self_ptr);
    const char* path = sd_bus_message_get_path(m);
    if (path == nullptr) return 0;
    std::unique_lock lock(self->mu_);
    auto pit = self->paths_.find(path);
    if (pit == self->paths_.end()) return 0;  // not a watched unit
    auto uit = self->units_.find(pit->second);
    if (uit == self->units_.end()) return 0;
    UnitState& u = uit->second;
    const char* iface = nullptr;
    if (sd_bus_message_read_basic(m, 's', &iface) < 0) return 0;
    UnitState before = u;
    std::set<std::string> applied;
    int r = ReadProperties(m, u, &applied);
    // Properties systemd only invalidates (or a message we could not read) are re-read with GetAll.
    bool refetch = r < 0;
    if (r >= 0 && sd_bus_message_enter_container(m, 'a', "s") >= 0) {
      const char* inv = nullptr;
      while (sd_bus_message_read_basic(m, 's', &inv) > 0) {
        if (IsTrackedProperty(inv)) refetch = true;
      }
      (void)sd_bus_message_exit_container(m);
    }
    if (refetch) self->refetch_.insert(u.name);
    if (StateDiffers(before, u)) {
      u.changed_ms = self->o_.clock->NowMs();
      self->changed_ = true;
      self->pending_logs_.push_back({u.name, u.active_state, u.sub_state, self->o_.clock->NowMs()});
    }  // counters alone (memory, CPU) are stored at the next refresh, without an event
    return 0;
  }

  static int OnUnitNew(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<MonitorImpl*>(self_ptr);
    const char* name = nullptr;
    const char* path = nullptr;
    if (sd_bus_message_read(m, "so", &name, &path) < 0) return 0;
    if (FindSpec(self->o_.units, name) == nullptr) return 0;
    {
      // Units come and go (systemd unloads unused ones; our own GetAll can load
      // them again): signals for a known path keep flowing, so only new names matter.
      std::lock_guard lock(self->mu_);
      if (self->units_.count(name)) return 0;
    }
    self->new_units_.emplace_back(name, path);
    return 0;
  }

  static int OnNameOwnerChanged(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<MonitorImpl*>(self_ptr);
    const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) return 0;
    if (new_owner == nullptr || new_owner[0] == '\0') {
      self->SetProblem("systemd_gone", "", "org.freedesktop.systemd1 left the bus");
    } else {
      self->resubscribe_ = true;
      self->reenumerate_ = true;
    }
    return 0;
  }

  static int OnReloading(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<MonitorImpl*>(self_ptr);
    int starting = 0;
    if (sd_bus_message_read(m, "b", &starting) < 0) return 0;
    // After `systemctl daemon-reload` unit files may have changed: look everything up again.
    if (!starting) self->reenumerate_ = true;
    return 0;
  }

  struct PendingLog {
    std::string unit, active, sub;
    TimestampMs received_ms;
  };

  MonitorOptions o_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // Watcher thread only.
  sd_bus* bus_ = nullptr;
  std::chrono::steady_clock::time_point next_refresh_{};
  bool changed_ = false;
  bool reenumerate_ = false;
  bool resubscribe_ = false;
  std::vector<std::pair<std::string, std::string>> new_units_;
  std::set<std::string> refetch_;
  std::vector<PendingLog> pending_logs_;

  mutable std::mutex mu_;  // guards everything below
  std::map<std::string, UnitState> units_;
  std::map<std::string, std::string> paths_;                             // object path -> unit name
  std::map<std::pair<std::string, std::string>, std::string> problems_;  // (reason, unit) -> detail
  bool connected_ = false;
  bool first_sync_done_ = false;
  std::condition_variable first_sync_cv_;

  std::mutex record_mu_;  // orders Record() calls
  TimestampMs last_recorded_ms_ = 0;
  std::optional<std::map<std::string, bool>> recorded_up_;  // vigil_service_up as last recorded
  std::atomic<bool> health_changed_{false};
};

}  // namespace

std::shared_ptr<Monitor> Monitor::Start(MonitorOptions options) {
  auto m = std::make_shared<MonitorImpl>(std::move(options));
  m->Begin();
  return m;
}

}  // namespace vigil::systemd
