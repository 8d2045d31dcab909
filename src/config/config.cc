#include "config/config.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/file.h"
#include "config/env.h"

namespace vigil::config {

std::string Problem::ToString() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {

// Config and env files are small; a cap keeps a path like /dev/zero from hanging the load.
constexpr size_t kMaxConfigBytes = 16 << 20;

// ReadFile says "read PATH: reason"; callers name the file themselves.
std::string ReasonOf(const Status& s) {
  const std::string& m = s.message();
  size_t colon = m.rfind(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

// State shared by every reader while one file is decoded.
struct Decoder {
  std::string file;
  EnvLookup env;
  std::vector<Problem>* problems;

  void Report(const YAML::Node& node, const std::string& field, const std::string& message) {
    YAML::Mark m = node.Mark();
    std::string text = field.empty() ? message : field + ": " + message;
    if (m.is_null()) {
      problems->push_back({file, 0, 0, text});
    } else {
      problems->push_back({file, m.line + 1, m.column + 1, text});
    }
  }

  static const char* KindName(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map: return "a mapping";
      case YAML::NodeType::Sequence: return "a list";
      case YAML::NodeType::Scalar: return "a scalar";
      case YAML::NodeType::Null: return "nothing";
      default: return "an undefined value";
    }
  }

  // Reads a scalar and expands ${VAR}; false after reporting a problem.
  bool String(const YAML::Node& node, const std::string& field, std::string* out) {
    if (!node.IsScalar()) {
      Report(node, field, std::string("expected a string, got ") + KindName(node));
      return false;
    }
    Result<std::string> expanded = ExpandVariables(node.Scalar(), env);
    if (!expanded.ok()) {
      Report(node, field, expanded.status().message());
      return false;
    }
    *out = std::move(*expanded);
    return true;
  }

  // Values that came from ${VAR} may be secrets: problems about them quote
  // the reference as written, never the expanded value.
  static std::string Explain(const YAML::Node& node, const std::string& expanded, const std::string& message,
                             const std::string& what) {
    if (node.Scalar() == expanded) return message;
    return "the value of " + node.Scalar() + " is not " + what;
  }

  void Duration(const YAML::Node& node, const std::string& field, vigil::Duration* out, bool allow_zero) {
    std::string text;
    if (!String(node, field, &text)) return;
    Result<vigil::Duration> d = ParseDuration(text);
    if (!d.ok()) {
      Report(node, field, Explain(node, text, d.status().message(), "a valid duration (e.g. 15s, 1h30m)"));
    } else if (!allow_zero && d->count() <= 0) {
      Report(node, field, "must be greater than zero");
    } else {
      *out = *d;
    }
  }

  void Bool(const YAML::Node& node, const std::string& field, bool* out) {
    std::string text;
    if (!String(node, field, &text)) return;
    if (text == "true" || text == "yes" || text == "on") {
      *out = true;
    } else if (text == "false" || text == "no" || text == "off") {
      *out = false;
    } else {
      Report(node, field, Explain(node, text, "expected true or false, got \"" + text + "\"", "true or false"));
    }
  }

  void Regex(const YAML::Node& node, const std::string& field, std::string* out) {
    std::string text;
    if (!String(node, field, &text)) return;
    RE2 re(text, RE2::Quiet);
    if (!re.ok()) {
      Report(node, field,
             Explain(node, text, "invalid regular expression: " + re.error(), "a valid regular expression"));
      return;
    }
    *out = std::move(text);
  }
};

// Walks the keys of one mapping: Take() claims a key, Finish() reports the
// keys nobody claimed, so a typo never silently disables a setting.
class MapReader {
 public:
  MapReader(Decoder& d, const YAML::Node& node, std::string path) : d_(d), node_(node), path_(std::move(path)) {
    valid_ = node.IsMap();
    if (!valid_ && !node.IsNull()) {
      d_.Report(node, path_, std::string("expected a mapping, got ") + Decoder::KindName(node));
    }
    if (!valid_) return;
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (!seen.insert(key).second) d_.Report(it->first, Field(key), "duplicate key");
    }
  }

  // Returns the value of `key`, or an undefined node when absent.
  YAML::Node Take(const std::string& key) {
    claimed_.insert(key);
    if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  std::string Field(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  void Finish(std::string_view hint = {}) {
    if (!valid_) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (claimed_.count(key)) continue;
      std::string known;
      for (const auto& k : claimed_) known += (known.empty() ? "" : ", ") + k;
      std::string msg = "unknown key \"" + key + "\"";
      if (!hint.empty() && path_.empty()) {
        msg += std::string(" ") + std::string(hint);
      }
      msg += " (known keys: " + known + ")";
      d_.Report(it->first, path_, msg);
    }
  }

 private:
  Decoder& d_;
  YAML::Node node_;
  std::string path_;
  bool valid_ = false;
  std::set<std::string> claimed_;
};

void DecodeGlobal(Decoder& d, const YAML::Node& node, GlobalOptions* g) {
  MapReader r(d, node, "global");
  if (auto n = r.Take("listen"); n.IsDefined()) {
    std::string listen;
    if (d.String(n, r.Field("listen"), &listen)) {
      size_t colon = listen.rfind(':');
      std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
      bool digits = !port.empty() && port.size() <= 5 &&
                    std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (!digits || std::stoi(port) > 65535) {
        d.Report(n, r.Field("listen"),
                 Decoder::Explain(n, listen, "expected HOST:PORT (e.g. 127.0.0.1:9810), got \"" + listen + "\"",
                                  "a HOST:PORT address"));
      } else {
        g->listen = std::move(listen);
      }
    }
  }
  if (auto n = r.Take("data_dir"); n.IsDefined()) d.String(n, r.Field("data_dir"), &g->data_dir);
  if (auto n = r.Take("scrape_interval"); n.IsDefined())
    d.Duration(n, r.Field("scrape_interval"), &g->scrape_interval, false);
  if (auto n = r.Take("log_level"); n.IsDefined()) {
    std::string level;
    if (d.String(n, r.Field("log_level"), &level)) {
      if (level == "debug" || level == "info" || level == "warn" || level == "error") {
        g->log_level = level;
      } else {
        d.Report(n, r.Field("log_level"),
                 Decoder::Explain(n, level, "expected debug, info, warn or error, got \"" + level + "\"",
                                  "one of debug, info, warn, error"));
      }
    }
  }
  r.Finish();
}

void DecodeHost(Decoder& d, const YAML::Node& node, const GlobalOptions& g, HostOptions* h) {
  h->interval = g.scrape_interval;
  MapReader r(d, node, "host");
  if (auto n = r.Take("enabled"); n.IsDefined()) d.Bool(n, r.Field("enabled"), &h->enabled);
  if (auto n = r.Take("interval"); n.IsDefined()) d.Duration(n, r.Field("interval"), &h->interval, false);
  h->timeout = std::min(h->interval, vigil::Duration(10000));
  if (auto n = r.Take("timeout"); n.IsDefined()) {
    d.Duration(n, r.Field("timeout"), &h->timeout, false);
    if (h->timeout > h->interval) d.Report(n, r.Field("timeout"), "must not be longer than host.interval");
  }
  if (auto fs = r.Take("filesystems"); fs.IsDefined()) {
    MapReader f(d, fs, "host.filesystems");
    if (auto n = f.Take("exclude_mountpoints"); n.IsDefined())
      d.Regex(n, f.Field("exclude_mountpoints"), &h->exclude_mountpoints);
    if (auto n = f.Take("exclude_fstypes"); n.IsDefined()) d.Regex(n, f.Field("exclude_fstypes"), &h->exclude_fstypes);
    f.Finish();
  }
  if (auto disks = r.Take("disks"); disks.IsDefined()) {
    MapReader f(d, disks, "host.disks");
    if (auto n = f.Take("exclude"); n.IsDefined()) d.Regex(n, f.Field("exclude"), &h->exclude_disks);
    f.Finish();
  }
  if (auto net = r.Take("network"); net.IsDefined()) {
    MapReader f(d, net, "host.network");
    if (auto n = f.Take("exclude"); n.IsDefined()) d.Regex(n, f.Field("exclude"), &h->exclude_network_devices);
    f.Finish();
  }
  r.Finish();
}

void DecodeStorage(Decoder& d, const YAML::Node& node, StorageOptions* s) {
  MapReader r(d, node, "storage");
  if (auto n = r.Take("retention"); n.IsDefined()) d.Duration(n, r.Field("retention"), &s->retention, false);
  if (auto n = r.Take("max_size"); n.IsDefined()) {
    std::string text;
    if (d.String(n, r.Field("max_size"), &text)) {
      Result<uint64_t> size = ParseByteSize(text);
      if (!size.ok()) {
        d.Report(n, r.Field("max_size"), Decoder::Explain(n, text, size.status().message(), "a size like 20GiB"));
      } else {
        s->max_bytes = *size;
      }
    }
  }
  if (auto n = r.Take("wal_fsync"); n.IsDefined()) d.Duration(n, r.Field("wal_fsync"), &s->wal_fsync, true);
  if (auto n = r.Take("block_range"); n.IsDefined()) {
    d.Duration(n, r.Field("block_range"), &s->block_range, false);
    if (s->block_range.count() < 60000) d.Report(n, r.Field("block_range"), "must be at least 1m");
  }
  r.Finish();
}

// Reads env files (paths relative to the config file) into one lookup where
// the process environment wins and later files override earlier ones.
EnvLookup WithEnvFiles(Decoder& d, const YAML::Node& list_node, const std::string& base_dir,
                       const EnvLookup& process_env, std::vector<std::string>* paths) {
  auto merged = std::make_shared<std::map<std::string, std::string>>();
  for (size_t i = 0; i < list_node.size(); ++i) {
    std::string field = "env_files[" + std::to_string(i) + "]", path;
    if (!d.String(list_node[i], field, &path)) continue;
    paths->push_back(path);
    std::filesystem::path p(path);
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      d.Report(list_node[i], field, "cannot read env file " + p.string() + ": is a directory");
      continue;
    }
    Result<std::string> content = ReadFile(p.string(), kMaxConfigBytes);
    if (!content.ok()) {
      d.Report(list_node[i], field, "cannot read env file " + p.string() + ": " + ReasonOf(content.status()));
      continue;
    }
    // Variables from earlier files are visible to later ones.
    EnvLookup chained = [merged, process_env](std::string_view name) -> std::optional<std::string> {
      if (auto v = process_env(name)) return v;
      if (auto it = merged->find(std::string(name)); it != merged->end()) return it->second;
      return std::nullopt;
    };
    EnvFile parsed = ParseEnvFile(*content, chained);
    for (const auto& problem : parsed.problems) {
      d.problems->push_back({p.string(), problem.line, 1, problem.message});
    }
    for (auto& [k, v] : parsed.vars) (*merged)[k] = v;
  }
  return [merged, process_env](std::string_view name) -> std::optional<std::string> {
    if (auto v = process_env(name)) return v;
    if (auto it = merged->find(std::string(name)); it != merged->end()) return it->second;
    return std::nullopt;
  };
}

LoadResult Decode(std::string_view yaml, const std::string& name, const std::string& base_dir, const EnvLookup& env) {
  LoadResult result;
  result.config.source = name;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    result.problems.push_back({name, e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg});
    return result;
  }
  Decoder d{name, env, &result.problems};
  if (root.IsNull()) return result;  // an empty file means all defaults
  MapReader top(d, root, "");
  Config& c = result.config;

  if (auto n = top.Take("env_files"); n.IsDefined()) {
    if (n.IsSequence()) {
      d.env = WithEnvFiles(d, n, base_dir, env, &c.env_files);
    } else {
      d.Report(n, "env_files", std::string("expected a list, got ") + Decoder::KindName(n));
    }
  }
  if (auto n = top.Take("global"); n.IsDefined()) DecodeGlobal(d, n, &c.global);
  if (auto n = top.Take("host"); n.IsDefined()) {
    DecodeHost(d, n, c.global, &c.host);
  } else {
    c.host.interval = c.global.scrape_interval;
    c.host.timeout = std::min(c.host.interval, vigil::Duration(10000));
  }
  if (auto n = top.Take("storage"); n.IsDefined()) DecodeStorage(d, n, &c.storage);
  top.Finish("(this version of vigil configures env_files, global, host and storage; see docs/configuration.md)");
  return result;
}

}  // namespace

LoadResult LoadString(std::string_view yaml, const std::string& name, const EnvLookup& env) {
  return Decode(yaml, name, "", env);
}

LoadResult LoadFile(const std::string& path, const EnvLookup& env) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult r;
    r.problems.push_back({path, 0, 0, "cannot read config: is a directory"});
    return r;
  }
  Result<std::string> content = ReadFile(path, kMaxConfigBytes);
  if (!content.ok()) {
    LoadResult r;
    r.problems.push_back({path, 0, 0, "cannot read config: " + ReasonOf(content.status())});
    return r;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return Decode(*content, path, dir, env);
}

LoadResult LoadDefault(const EnvLookup& env) { return Decode(DefaultConfigYaml(), "<built-in>", "", env); }

}  // namespace vigil::config
