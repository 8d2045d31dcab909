// What the D-Bus clients of this folder share (monitor, control, inspect):
// systemd's names, owners for sd-bus objects, and opening a bus. Internal to
// src/systemd; not part of its public headers.
#pragma once

#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>
#include <string>

#include "base/status.h"
#include "systemd/monitor.h"

namespace vigil::systemd::bus {

inline constexpr const char* kDest = "org.freedesktop.systemd1";
inline constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
inline constexpr const char* kManagerIface = "org.freedesktop.systemd1.Manager";
inline constexpr const char* kUnitIface = "org.freedesktop.systemd1.Unit";
inline constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";

struct BusDeleter {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
using BusPtr = std::unique_ptr<sd_bus, BusDeleter>;

struct ScopedError {
  // All null, as SD_BUS_ERROR_NULL (a C compound literal, which clang rejects in C++).
  sd_bus_error e{};
  ~ScopedError() { sd_bus_error_free(&e); }
};
struct ScopedMessage {
  sd_bus_message* m = nullptr;
  ~ScopedMessage() { sd_bus_message_unref(m); }
};

// The bus's own message, or the errno's.
inline std::string Why(const sd_bus_error& e, int r) {
  if (e.message != nullptr) return e.message;
  return std::strerror(r < 0 ? -r : r);
}

// "connecting to the user bus: No such file or directory" on failure.
inline Result<BusPtr> Open(Bus bus) {
  sd_bus* b = nullptr;
  int r = bus == Bus::kUser ? sd_bus_open_user(&b) : sd_bus_open_system(&b);
  if (r < 0) {
    return Status::Error(std::string("connecting to the ") + (bus == Bus::kUser ? "user" : "system") +
                         " bus: " + std::strerror(-r));
  }
  return BusPtr(b);
}

}  // namespace vigil::systemd::bus
