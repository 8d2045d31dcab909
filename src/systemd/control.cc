#include "systemd/control.h"

#include <poll.h>
#include <systemd/sd-bus.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "systemd/sd_bus_util.h"

namespace vigil::systemd {
namespace {

using bus::BusPtr;
using bus::kDest;
using bus::kManagerIface;
using bus::kManagerPath;
using bus::Open;
using bus::ScopedError;
using bus::ScopedMessage;
using bus::Why;

// Waits for the JobRemoved signal of `job` (an object path).
struct JobWatch {
  std::string job;
  std::string result;
  bool done = false;
  static int OnJobRemoved(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<JobWatch*>(self_ptr);
    uint32_t id = 0;
    const char *path = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
    if (!self->job.empty() && self->job == path) {
      self->result = result;
      self->done = true;
    } else if (self->job.empty()) {
      self->early.emplace_back(path, result);  // the signal may beat the method reply
    }
    return 0;
  }
  std::vector<std::pair<std::string, std::string>> early;
};

Result<JobOutcome> RunJob(Bus bus, const char* method, const std::string& unit, Duration timeout) {
  auto start = std::chrono::steady_clock::now();
  auto b = Open(bus);
  if (!b.ok()) return b.status();
  sd_bus* bus_ptr = b->get();
  JobWatch watch;
  int r = sd_bus_match_signal(bus_ptr, nullptr, kDest, kManagerPath, kManagerIface, "JobRemoved",
                              &JobWatch::OnJobRemoved, &watch);
  if (r < 0) return Status::Error(std::string("watching JobRemoved: ") + std::strerror(-r));
  ScopedError err;
  // Signals flow only to subscribed clients.
  r = sd_bus_call_method(bus_ptr, kDest, kManagerPath, kManagerIface, "Subscribe", &err.e, nullptr, "");
  if (r < 0 && !sd_bus_error_has_name(&err.e, "org.freedesktop.systemd1.AlreadySubscribed")) {
    return Status::Error("Subscribe: " + Why(err.e, r));
  }
  ScopedError err2;
  ScopedMessage reply;
  r = sd_bus_call_method(bus_ptr, kDest, kManagerPath, kManagerIface, method, &err2.e, &reply.m, "ss", unit.c_str(),
                         "replace");
  if (r < 0) return Status::Error(std::string(method) + " " + unit + ": " + Why(err2.e, r));
  const char* job = nullptr;
  if ((r = sd_bus_message_read(reply.m, "o", &job)) < 0) {
    return Status::Error(std::string("reading the reply of ") + method + ": " + std::strerror(-r));
  }
  watch.job = job;
  for (const auto& [path, result] : watch.early) {
    if (path == watch.job) watch.result = result, watch.done = true;
  }
  auto deadline = start + timeout;
  while (!watch.done) {
    r = sd_bus_process(bus_ptr, nullptr);
    if (r < 0) return Status::Error(std::string("waiting for the job of ") + unit + ": " + std::strerror(-r));
    if (r > 0) continue;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Status::Error(std::string(method) + " " + unit + ": no job result within " + FormatDuration(timeout));
    }
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
    (void)sd_bus_wait(bus_ptr, static_cast<uint64_t>(left));
  }
  JobOutcome out;
  out.result = watch.result;
  out.took = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);
  return out;
}

Result<std::string> UnitPath(sd_bus* bus, const std::string& unit) {
  ScopedError err;
  ScopedMessage reply;
  int r = sd_bus_call_method(bus, kDest, kManagerPath, kManagerIface, "LoadUnit", &err.e, &reply.m, "s", unit.c_str());
  const char* path = nullptr;
  if (r >= 0) r = sd_bus_message_read(reply.m, "o", &path);
  if (r < 0) return Status::Error("LoadUnit " + unit + ": " + Why(err.e, r));
  return std::string(path);
}

}  // namespace

Result<JobOutcome> RestartUnit(Bus bus, const std::string& unit, Duration timeout) {
  auto first = RunJob(bus, "RestartUnit", unit, timeout);
  if (!first.ok() || first->ok()) return first;
  // A unit past its start rate limit refuses every start until its failed state is reset.
  auto state = ReadUnit(bus, unit);
  if (!state.ok() || state->result != "start-limit-hit") return first;
  {
    auto b = Open(bus);
    if (!b.ok()) return b.status();
    ScopedError err;
    int r = sd_bus_call_method(b->get(), kDest, kManagerPath, kManagerIface, "ResetFailedUnit", &err.e, nullptr, "s",
                               unit.c_str());
    if (r < 0) return Status::Error("ResetFailedUnit " + unit + ": " + Why(err.e, r));
  }
  auto second = RunJob(bus, "RestartUnit", unit, timeout);
  if (second.ok()) second->took += first->took;
  return second;
}

Result<JobOutcome> StopUnit(Bus bus, const std::string& unit, Duration timeout) {
  return RunJob(bus, "StopUnit", unit, timeout);
}

Result<UnitRuntime> ReadUnit(Bus bus, const std::string& unit) {
  auto b = Open(bus);
  if (!b.ok()) return b.status();
  auto path = UnitPath(b->get(), unit);
  if (!path.ok()) return path.status();
  UnitRuntime out;
  auto get_string = [&](const char* iface, const char* name, std::string* value) -> Status {
    ScopedError err;
    char* v = nullptr;
    int r = sd_bus_get_property_string(b->get(), kDest, path->c_str(), iface, name, &err.e, &v);
    if (r < 0) return Status::Error(std::string("reading ") + name + " of " + unit + ": " + Why(err.e, r));
    *value = v;
    free(v);
    return Status::Ok();
  };
  auto get_u32 = [&](const char* name, uint32_t* value) -> Status {
    ScopedError err;
    int r = sd_bus_get_property_trivial(b->get(), kDest, path->c_str(), "org.freedesktop.systemd1.Service", name,
                                        &err.e, 'u', value);
    if (r < 0) return Status::Error(std::string("reading ") + name + " of " + unit + ": " + Why(err.e, r));
    return Status::Ok();
  };
  const char* unit_iface = "org.freedesktop.systemd1.Unit";
  for (Status s :
       {get_string(unit_iface, "ActiveState", &out.active_state), get_string(unit_iface, "SubState", &out.sub_state),
        get_u32("MainPID", &out.main_pid), get_u32("NRestarts", &out.n_restarts),
        get_string("org.freedesktop.systemd1.Service", "Result", &out.result)}) {
    if (!s.ok()) return s;
  }
  return out;
}

}  // namespace vigil::systemd
