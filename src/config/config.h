// vigil.yml: loading, ${VAR} expansion, env files and strict validation.
// Every problem is reported as file:line:col with the field and the reason;
// loading never stops at the first problem.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"

namespace vigil::config {

// node_exporter's defaults, so filesystem series match it out of the box.
inline constexpr std::string_view kDefaultExcludeMountpoints =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
inline constexpr std::string_view kDefaultExcludeFsTypes =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|"
    "nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
inline constexpr std::string_view kDefaultExcludeDisks = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";

struct GlobalOptions {
  std::string listen = "127.0.0.1:9810";
  std::string data_dir = "./data";
  Duration scrape_interval{15000};
  std::string log_level = "info";
};

struct HostOptions {
  bool enabled = true;
  Duration interval{15000};
  Duration timeout{10000};
  std::string exclude_mountpoints{kDefaultExcludeMountpoints};
  std::string exclude_fstypes{kDefaultExcludeFsTypes};
  std::string exclude_disks{kDefaultExcludeDisks};
  std::string exclude_network_devices;  // empty: keep every device, as node_exporter
};

struct StorageOptions {
  Duration retention{30LL * 24 * 3600 * 1000};
  uint64_t max_bytes = 0;  // 0: no size cap
  Duration wal_fsync{1000};
  Duration block_range{2LL * 3600 * 1000};
};

struct Config {
  std::string source;  // the file it came from, or "<built-in>"
  std::vector<std::string> env_files;
  GlobalOptions global;
  HostOptions host;
  StorageOptions storage;
};

struct Problem {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no position
  int column = 0;  // 1-based
  std::string message;
  // "file:line:col: message" (or "file: message" without a position).
  std::string ToString() const;
};

struct LoadResult {
  Config config;
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

// Looks an environment variable up; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

// Loads and validates a config file. Env files named in it are read relative
// to the config file's directory. The process environment wins over env files.
LoadResult LoadFile(const std::string& path, const EnvLookup& env = ProcessEnv());
// Same, from text; `name` is used in problem positions.
LoadResult LoadString(std::string_view yaml, const std::string& name, const EnvLookup& env = ProcessEnv());
// The shipped default configuration (deploy/default.yml, embedded at build time).
std::string_view DefaultConfigYaml();
LoadResult LoadDefault(const EnvLookup& env = ProcessEnv());

}  // namespace vigil::config
