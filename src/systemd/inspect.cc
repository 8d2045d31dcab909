#include "systemd/inspect.h"

#include <systemd/sd-bus.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "systemd/sd_bus_util.h"

namespace vigil::systemd {
namespace {

using bus::BusPtr;
using bus::kDest;
using bus::kManagerIface;
using bus::kManagerPath;
using bus::kServiceIface;
using bus::kUnitIface;
using bus::Open;
using bus::ScopedError;
using bus::ScopedMessage;
using bus::Why;

Status Fail(const std::string& what, int r) { return Status::Error(what + ": " + std::strerror(-r)); }

// Appends a D-Bus string array ("as") read from `m`.
int ReadStrings(sd_bus_message* m, std::vector<std::string>* out) {
  int r = sd_bus_message_enter_container(m, 'a', "s");
  if (r < 0) return r;
  const char* s = nullptr;
  while ((r = sd_bus_message_read(m, "s", &s)) > 0) out->emplace_back(s);
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

bool IsTemplate(const std::string& name) { return name.find("@.") != std::string::npos; }

}  // namespace

Result<std::vector<std::string>> ListUnitNames(Bus bus, const std::vector<std::string>& patterns) {
  auto b = Open(bus);
  if (!b.ok()) return b.status();
  std::vector<std::string> names;
  for (const char* method : {"ListUnitsByPatterns", "ListUnitFilesByPatterns"}) {
    bool files = std::strcmp(method, "ListUnitFilesByPatterns") == 0;
    ScopedMessage call, reply;
    ScopedError err;
    int r = sd_bus_message_new_method_call(b->get(), &call.m, kDest, kManagerPath, kManagerIface, method);
    if (r >= 0) r = sd_bus_message_append_strv(call.m, nullptr);  // any state
    if (r >= 0) {
      std::vector<const char*> strv;
      for (const auto& p : patterns) strv.push_back(p.c_str());
      strv.push_back(nullptr);
      r = sd_bus_message_append_strv(call.m, const_cast<char**>(strv.data()));
    }
    if (r < 0) return Fail(std::string("building ") + method, r);
    r = sd_bus_call(b->get(), call.m, 0, &err.e, &reply.m);
    if (r < 0) return Status::Error(std::string(method) + ": " + Why(err.e, r));
    r = sd_bus_message_enter_container(reply.m, 'a', files ? "(ss)" : "(ssssssouso)");
    if (r < 0) return Fail(std::string("reading the reply of ") + method, r);
    for (;;) {
      const char *first = nullptr, *skip = nullptr;
      uint32_t job = 0;
      if (files) {
        r = sd_bus_message_read(reply.m, "(ss)", &first, &skip);
      } else {
        r = sd_bus_message_read(reply.m, "(ssssssouso)", &first, &skip, &skip, &skip, &skip, &skip, &skip, &job, &skip,
                                &skip);
      }
      if (r < 0) return Fail(std::string("reading the reply of ") + method, r);
      if (r == 0) break;
      std::string name = first;
      if (files) name = name.substr(name.rfind('/') + 1);  // a unit file's path
      if (!IsTemplate(name)) names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<UnitDefinition> ReadUnitDefinition(Bus bus, const std::string& unit) {
  auto b = Open(bus);
  if (!b.ok()) return b.status();
  UnitDefinition d;
  d.name = unit;
  std::string path;
  {
    ScopedError err;
    ScopedMessage reply;
    int r = sd_bus_call_method(b->get(), kDest, kManagerPath, kManagerIface, "LoadUnit", &err.e, &reply.m, "s",
                               unit.c_str());
    const char* p = nullptr;
    if (r >= 0) r = sd_bus_message_read(reply.m, "o", &p);
    if (r < 0) return Status::Error("LoadUnit " + unit + ": " + Why(err.e, r));
    path = p;
  }
  auto get_string = [&](const char* iface, const char* name, std::string* value) -> Status {
    ScopedError err;
    char* v = nullptr;
    int r = sd_bus_get_property_string(b->get(), kDest, path.c_str(), iface, name, &err.e, &v);
    if (r < 0) return Status::Error(std::string("reading ") + name + " of " + unit + ": " + Why(err.e, r));
    *value = v;
    free(v);
    return Status::Ok();
  };
  for (Status s :
       {get_string(kUnitIface, "LoadState", &d.load_state), get_string(kUnitIface, "FragmentPath", &d.fragment_path)}) {
    if (!s.ok()) return s;
  }
  if (d.load_state != "loaded") {  // no service properties to read; LoadError says why
    ScopedError err;
    ScopedMessage reply;
    int r = sd_bus_get_property(b->get(), kDest, path.c_str(), kUnitIface, "LoadError", &err.e, &reply.m, "(ss)");
    const char *name = nullptr, *message = nullptr;
    if (r >= 0 && sd_bus_message_read(reply.m, "(ss)", &name, &message) > 0 && message != nullptr) {
      d.load_error = message;
    }
    return d;
  }
  for (Status s : {get_string(kServiceIface, "WorkingDirectory", &d.working_directory),
                   get_string(kServiceIface, "User", &d.user)}) {
    if (!s.ok()) return s;
  }
  auto get = [&](const char* iface, const char* name, const char* type, ScopedMessage* reply) -> Status {
    ScopedError err;
    int r = sd_bus_get_property(b->get(), kDest, path.c_str(), iface, name, &err.e, &reply->m, type);
    if (r < 0) return Status::Error(std::string("reading ") + name + " of " + unit + ": " + Why(err.e, r));
    return Status::Ok();
  };
  {
    ScopedMessage reply;
    if (Status s = get(kServiceIface, "Environment", "as", &reply); !s.ok()) return s;
    if (int r = ReadStrings(reply.m, &d.environment); r < 0) return Fail("reading Environment of " + unit, r);
  }
  {
    ScopedMessage reply;
    if (Status s = get(kServiceIface, "EnvironmentFiles", "a(sb)", &reply); !s.ok()) return s;
    int r = sd_bus_message_enter_container(reply.m, 'a', "(sb)");
    const char* file = nullptr;
    int ignore = 0;
    while (r >= 0 && (r = sd_bus_message_read(reply.m, "(sb)", &file, &ignore)) > 0) {
      d.environment_files.push_back((ignore ? "-" : "") + std::string(file));
    }
    if (r < 0) return Fail("reading EnvironmentFiles of " + unit, r);
  }
  {
    // a(sasbttttuii): path, argv, ignore failure, timestamps, pid, code, status.
    ScopedMessage reply;
    if (Status s = get(kServiceIface, "ExecStart", "a(sasbttttuii)", &reply); !s.ok()) return s;
    int r = sd_bus_message_enter_container(reply.m, 'a', "(sasbttttuii)");
    if (r >= 0) r = sd_bus_message_enter_container(reply.m, 'r', "sasbttttuii");
    if (r > 0) {
      const char* exe = nullptr;
      r = sd_bus_message_read(reply.m, "s", &exe);
      if (r >= 0) r = ReadStrings(reply.m, &d.exec_start);
    }
    if (r < 0) return Fail("reading ExecStart of " + unit, r);
  }
  return d;
}

}  // namespace vigil::systemd
