#include "cli/init_command.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "base/file.h"
#include "init/init.h"
#include "systemd/inspect.h"

namespace vigil::cli {
namespace {

constexpr const char* kRoles[] = {"bitcoind", "titan", "validator"};

std::string HomeOf(const std::string& user, bool user_bus, std::vector<std::string>* notes) {
  if (struct passwd* pw = getpwnam(user.c_str()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  // A user manager's units run as the calling user, whatever their instance name.
  if (user_bus) {
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  }
  notes->push_back("no user named " + user + " on this host: its home is taken to be /home/" + user);
  return "/home/" + user;
}

// The instance names of every arch-*@NAME unit.
Result<std::set<std::string>> Instances(systemd::Bus bus) {
  auto names = systemd::ListUnitNames(bus, {"arch-*@*.service"});
  if (!names.ok()) return names.status();
  std::set<std::string> users;
  for (const auto& n : *names) {
    size_t at = n.find('@'), dot = n.rfind('.');
    if (at != std::string::npos && dot > at + 1) users.insert(n.substr(at + 1, dot - at - 1));
  }
  return users;
}

const char* BusHint(bool user_bus) {
  return user_bus ? " (is `systemd --user` running? XDG_RUNTIME_DIR or DBUS_SESSION_BUS_ADDRESS finds it)"
                  : " (for units of `systemd --user`, add --user-bus)";
}

}  // namespace

int RunInit(const InitOptions& o) {
  if (o.preset != "arch-validator") {
    std::fprintf(stderr, "error: --preset: unknown preset \"%s\" (presets: arch-validator)\n", o.preset.c_str());
    return 2;
  }
  systemd::Bus bus = o.user_bus ? systemd::Bus::kUser : systemd::Bus::kSystem;
  const char* bus_name = o.user_bus ? "user" : "system";
  std::string user = o.user;
  if (user.empty()) {
    auto users = Instances(bus);
    if (!users.ok()) {
      std::fprintf(stderr, "error: %s%s\n", users.status().message().c_str(), BusHint(o.user_bus));
      return 1;
    }
    if (users->empty()) {
      std::fprintf(stderr, "error: no arch-*@USER units on the %s bus%s\n", bus_name,
                   o.user_bus ? "" : " (for units of `systemd --user`, add --user-bus)");
      return 1;
    }
    if (users->size() > 1) {
      std::string list;
      for (const auto& u : *users) list += (list.empty() ? "" : ", ") + u;
      std::fprintf(stderr, "error: arch-*@ units of several users (%s); name one with --user\n", list.c_str());
      return 1;
    }
    user = *users->begin();
  }
  if (user.find_first_of("/*?[ ") != std::string::npos || user.empty()) {
    std::fprintf(stderr, "error: --user: \"%s\" is not a unit instance name\n", user.c_str());
    return 2;
  }

  auto names = systemd::ListUnitNames(bus, {"arch-*@" + user + ".service"});
  if (!names.ok()) {
    std::fprintf(stderr, "error: %s%s\n", names.status().message().c_str(), BusHint(o.user_bus));
    return 1;
  }
  std::set<std::string> wanted(names->begin(), names->end());
  // A template instance that is neither running nor enabled is listed nowhere, yet LoadUnit finds it.
  for (const char* role : kRoles) wanted.insert(std::string("arch-") + role + "@" + user + ".service");

  init::Host host;
  host.user = user;
  host.user_bus = o.user_bus;
  std::vector<std::string> notes;
  host.home = HomeOf(user, o.user_bus, &notes);
  bool any_loaded = false;
  for (const auto& name : wanted) {
    auto def = systemd::ReadUnitDefinition(bus, name);
    if (!def.ok()) {
      notes.push_back(def.status().message());
      continue;
    }
    any_loaded = any_loaded || def->load_state == "loaded";
    host.units.push_back({def->name, def->load_state, def->fragment_path, def->load_error, def->exec_start,
                          def->environment, def->environment_files, def->working_directory});
  }
  if (!any_loaded) {
    for (const auto& u : host.units) {
      if (u.load_state == "not-found") continue;
      notes.push_back(u.name + " is " + u.load_state + " in " + u.fragment_path + ": " + u.load_error +
                      " (`systemd-analyze verify` names the line)");
    }
    for (const auto& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    std::fprintf(stderr, "error: no loadable arch-*@%s.service units on the %s bus%s\n", user.c_str(), bus_name,
                 o.user_bus ? "" : " (for units of `systemd --user`, add --user-bus)");
    return 1;
  }

  init::FileReader read = [](const std::string& path) -> Result<std::string> {
    auto r = ReadFile(path, 1 << 20);
    if (r.ok()) return r;
    // ReadFile says "read PATH: why"; the notes name the path themselves.
    std::string m = r.status().message(), prefix = "read " + path + ": ";
    return Status::Error(m.rfind(prefix, 0) == 0 ? m.substr(prefix.size()) : m);
  };
  init::Output out = init::RenderArchValidator(host, read);
  notes.insert(notes.end(), out.notes.begin(), out.notes.end());
  for (const auto& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());

  if (o.write.empty() || o.dry_run) {
    std::fwrite(out.yaml.data(), 1, out.yaml.size(), stdout);
    return 0;
  }
  struct stat st;
  if (!o.force && ::stat(o.write.c_str(), &st) == 0) {
    std::fprintf(stderr, "error: %s exists; add --force to overwrite it (or --dry-run to print instead)\n",
                 o.write.c_str());
    return 1;
  }
  if (Status s = WriteFileSynced(o.write, out.yaml); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %s; check it with: vigil check config %s\n", o.write.c_str(), o.write.c_str());
  return 0;
}

}  // namespace vigil::cli
