#include "config/config.h"

#include <fnmatch.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "base/file.h"
#include "base/labels.h"
#include "base/strings.h"
#include "base/timezone.h"
#include "config/env.h"
#include "http/outbound.h"
#include "promql/ast.h"
#include "rules/builtin_packs.h"
#include "template/template.h"

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
  // alerting.templates' {{define}}s, once read: what receivers' templates may call.
  std::optional<tmpl::Template> template_library;
  std::string_view source;  // the file's text, to place a problem inside a value

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

  void Int(const YAML::Node& node, const std::string& field, int* out, int min, int max) {
    std::string text;
    if (!String(node, field, &text)) return;
    std::optional<int64_t> v = ParseInt64(text);
    if (!v || *v < min || *v > max) {
      Report(node, field,
             Explain(node, text,
                     "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", got \"" +
                         text + "\"",
                     "a whole number"));
      return;
    }
    *out = static_cast<int>(*v);
  }

  // An http:// or https:// URL with a host.
  void Url(const YAML::Node& node, const std::string& field, std::string* out) {
    std::string text;
    if (!String(node, field, &text)) return;
    size_t scheme_end = text.find("://");
    std::string scheme = scheme_end == std::string::npos ? "" : text.substr(0, scheme_end);
    std::string rest = scheme_end == std::string::npos ? "" : text.substr(scheme_end + 3);
    if ((scheme != "http" && scheme != "https") || rest.empty() || rest[0] == '/' ||
        text.find_first_of(" \t\r\n") != std::string::npos) {
      // A URL may embed credentials, so a value from ${VAR} is never echoed.
      Report(node, field,
             Explain(node, text, "expected an http:// or https:// URL with a host, got \"" + text + "\"",
                     "an http:// or https:// URL"));
      return;
    }
    *out = std::move(text);
  }

  // HOST:PORT, with [v6]:PORT allowed.
  void HostPort(const YAML::Node& node, const std::string& field, std::string* out) {
    std::string text;
    if (!String(node, field, &text)) return;
    size_t colon = text.rfind(':');
    std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
    std::optional<uint64_t> p = ParseUint64(port);
    if (host.empty() || !p || *p == 0 || *p > 65535) {
      Report(node, field,
             Explain(node, text, "expected HOST:PORT (e.g. rpc.example.net:443), got \"" + text + "\"",
                     "a HOST:PORT address"));
      return;
    }
    *out = std::move(text);
  }

  // A list of strings; a scalar is not silently taken as a one-element list.
  void StringList(const YAML::Node& node, const std::string& field, std::vector<std::string>* out) {
    if (!node.IsSequence()) {
      Report(node, field, std::string("expected a list, got ") + KindName(node));
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      std::string v;
      if (String(node[i], field + "[" + std::to_string(i) + "]", &v)) out->push_back(std::move(v));
    }
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

void DecodeReports(Decoder& d, const YAML::Node& node, ReportsOptions* out) {
  MapReader r(d, node, "reports");
  if (auto digest = r.Take("digest"); digest.IsDefined()) {
    DigestOptions& o = out->digest.emplace();
    MapReader g(d, digest, "reports.digest");
    if (auto n = g.Take("schedule"); n.IsDefined()) {
      std::string text;
      if (d.String(n, g.Field("schedule"), &text)) {
        if (Status s = ParseWeekdayTime(text, &o.weekday, &o.minute_of_day); !s.ok()) {
          d.Report(n, g.Field("schedule"), s.message());
        } else {
          o.schedule = text;
        }
      }
    }
    if (auto n = g.Take("timezone"); n.IsDefined()) {
      std::string zone;
      if (d.String(n, g.Field("timezone"), &zone)) {
        if (Result<TimeZone> tz = TimeZone::Load(zone); !tz.ok()) {
          d.Report(n, g.Field("timezone"), tz.status().message());
        } else {
          o.timezone = zone;
        }
      }
    }
    if (auto n = g.Take("severity"); n.IsDefined()) {
      if (d.String(n, g.Field("severity"), &o.severity) && o.severity.empty())
        d.Report(n, g.Field("severity"), "must not be empty");
    }
    g.Finish();
  }
  r.Finish();
}

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
  if (auto n = r.Take("evaluation_interval"); n.IsDefined())
    d.Duration(n, r.Field("evaluation_interval"), &g->evaluation_interval, false);
  if (auto n = r.Take("external_labels"); n.IsDefined()) {
    if (!n.IsMap()) {
      d.Report(n, r.Field("external_labels"), std::string("expected a mapping, got ") + Decoder::KindName(n));
    } else {
      for (auto it = n.begin(); it != n.end(); ++it) {
        std::string key = it->first.IsScalar() ? it->first.Scalar() : "", value;
        std::string field = r.Field("external_labels") + "." + key;
        if (!IsValidLabelName(key) || key.starts_with("__")) {
          d.Report(it->first, r.Field("external_labels"), "\"" + key + "\" is not a valid label name");
          continue;
        }
        if (d.String(it->second, field, &value)) g->external_labels[key] = std::move(value);
      }
    }
  }
  if (auto n = r.Take("instance"); n.IsDefined()) d.String(n, r.Field("instance"), &g->instance);
  if (auto n = r.Take("job"); n.IsDefined()) {
    if (d.String(n, r.Field("job"), &g->job) && g->job.empty()) d.Report(n, r.Field("job"), "must not be empty");
  }
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
  if (auto n = r.Take("job"); n.IsDefined()) {
    if (d.String(n, r.Field("job"), &h->job) && h->job.empty()) d.Report(n, r.Field("job"), "must not be empty");
  }
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

// Visits each item of the list under `key` in `r` with its path ("key[i]");
// a missing key is fine, a value that is not a list is reported.
void ForEachItem(Decoder& d, MapReader& r, const char* key,
                 const std::function<void(const YAML::Node&, const std::string&)>& visit) {
  YAML::Node list = r.Take(key);
  if (!list.IsDefined()) return;
  if (!list.IsSequence()) {
    d.Report(list, r.Field(key), std::string("expected a list, got ") + Decoder::KindName(list));
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) visit(list[i], r.Field(key) + "[" + std::to_string(i) + "]");
}

// ForEachItem for lists of mappings: each with its own MapReader, a
// non-mapping item reported; the visitor's keys are checked when it returns.
void ForEachMapping(Decoder& d, MapReader& r, const char* key,
                    const std::function<void(MapReader&, const YAML::Node&, const std::string&)>& visit) {
  ForEachItem(d, r, key, [&](const YAML::Node& node, const std::string& path) {
    MapReader item(d, node, path);
    if (!node.IsMap()) return;
    visit(item, node, path);
    item.Finish();
  });
}

void DecodeTextfile(Decoder& d, const YAML::Node& node, TextfileOptions* t) {
  MapReader r(d, node, "textfile");
  if (auto n = r.Take("directory"); n.IsDefined()) {
    if (d.String(n, r.Field("directory"), &t->directory) && t->directory.empty()) {
      d.Report(n, r.Field("directory"), "must not be empty");
    }
  }
  r.Finish();
}

// Paths and globs (`*`, `?`, `[…]` in the last component, as Prometheus
// allows). A glob matching nothing is fine (the directory may fill later); a
// plain path that does not exist is a problem. With `builtin_packs`, an entry
// `builtin:NAME` names an embedded rule pack and is kept as written.
void DecodeFileList(Decoder& d, const YAML::Node& node, const std::string& key, const std::string& base_dir,
                    std::vector<std::string>* patterns, std::vector<std::string>* files, bool builtin_packs = false) {
  if (!node.IsSequence()) {
    d.Report(node, key, std::string("expected a list, got ") + Decoder::KindName(node));
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& item = node[i];
    std::string field = key + "[" + std::to_string(i) + "]", written;
    if (!d.String(item, field, &written)) continue;
    if (builtin_packs && rules::IsBuiltinPackRef(written)) {
      if (!rules::BuiltinPack(written)) {
        d.Report(item, field,
                 "no built-in rule pack is named " + written + " (built-in packs: " + rules::BuiltinPackList() + ")");
        continue;
      }
      patterns->push_back(written);
      if (seen.insert(written).second) files->push_back(written);
      continue;
    }
    std::filesystem::path pattern(written);
    if (pattern.is_relative() && !base_dir.empty()) pattern = std::filesystem::path(base_dir) / pattern;
    patterns->push_back(pattern.string());
    if (pattern.parent_path().string().find_first_of("*?[") != std::string::npos) {
      d.Report(item, field, "only the file name may hold a glob (" + written + ")");
      continue;
    }
    std::vector<std::string> found;
    if (pattern.filename().string().find_first_of("*?[") == std::string::npos) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(pattern, ec)) {
        d.Report(item, field, "cannot read " + pattern.string() + ": no such file");
        continue;
      }
      found.push_back(pattern.string());
    } else {
      std::error_code ec;
      for (std::filesystem::directory_iterator it(pattern.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file() &&
            fnmatch(pattern.filename().c_str(), it->path().filename().c_str(), FNM_PERIOD) == 0) {
          found.push_back(it->path().string());
        }
      }
      std::sort(found.begin(), found.end());
    }
    for (auto& f : found) {
      if (seen.insert(f).second) files->push_back(std::move(f));
    }
  }
}

// Entries may also name a rule pack embedded in the binary (`builtin:host`),
// so the built-in configuration has alerts wherever vigil runs.
void DecodeRuleFiles(Decoder& d, const YAML::Node& node, const std::string& base_dir, Config* c) {
  DecodeFileList(d, node, "rule_files", base_dir, &c->rule_file_patterns, &c->rule_files, /*builtin_packs=*/true);
}

// --- alerting: Alertmanager's route, receivers and inhibit_rules, plus vigil's
// maintenance_windows and flap control. Receiver URLs and keys are secrets:
// problems name the field, never the value.

void DecodeMatcherList(Decoder& d, const YAML::Node& node, const std::string& field, std::vector<std::string>* out) {
  if (!node.IsSequence()) {
    d.Report(node, field, std::string("expected a list of matchers, got ") + Decoder::KindName(node));
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string f = field + "[" + std::to_string(i) + "]", text;
    if (!d.String(node[i], f, &text)) continue;
    if (Result<alert::Matchers> m = alert::ParseMatchers(text); !m.ok()) {
      d.Report(node[i], f, m.status().message());
      continue;
    }
    out->push_back(std::move(text));
  }
}

void DecodeRoute(Decoder& d, const YAML::Node& node, const std::string& path, const std::set<std::string>& receivers,
                 bool root, alert::RouteSpec* r) {
  MapReader mr(d, node, path);
  if (!node.IsMap()) return;
  if (auto n = mr.Take("receiver"); n.IsDefined()) {
    if (d.String(n, mr.Field("receiver"), &r->receiver) && !receivers.count(r->receiver)) {
      d.Report(n, mr.Field("receiver"), "unknown receiver \"" + r->receiver + "\" (not in alerting.receivers)");
    }
  } else if (root) {
    d.Report(node, path, "the root route needs a receiver");
  }
  if (auto n = mr.Take("matchers"); n.IsDefined()) {
    if (root) d.Report(n, mr.Field("matchers"), "the root route matches every alert; put matchers on its routes");
    DecodeMatcherList(d, n, mr.Field("matchers"), &r->matchers);
  }
  if (auto n = mr.Take("group_by"); n.IsDefined()) {
    std::vector<std::string> names;
    d.StringList(n, mr.Field("group_by"), &names);
    for (const auto& name : names) {
      if (name != "..." && !IsValidLabelName(name)) {
        d.Report(n, mr.Field("group_by"), "\"" + name + "\" is not a label name (or \"...\" for all labels)");
      }
    }
    r->group_by = std::move(names);
  }
  auto duration = [&](const char* key, std::optional<Duration>* out, bool allow_zero) {
    if (auto n = mr.Take(key); n.IsDefined()) {
      Duration v{0};
      d.Duration(n, mr.Field(key), &v, allow_zero);
      *out = v;
    }
  };
  duration("group_wait", &r->group_wait, true);
  duration("group_interval", &r->group_interval, false);
  duration("repeat_interval", &r->repeat_interval, false);
  if (auto n = mr.Take("continue"); n.IsDefined()) d.Bool(n, mr.Field("continue"), &r->continue_matching);
  if (auto n = mr.Take("routes"); n.IsDefined()) {
    if (!n.IsSequence()) {
      d.Report(n, mr.Field("routes"), std::string("expected a list, got ") + Decoder::KindName(n));
    } else {
      for (size_t i = 0; i < n.size(); ++i) {
        alert::RouteSpec child;
        DecodeRoute(d, n[i], mr.Field("routes") + "[" + std::to_string(i) + "]", receivers, false, &child);
        r->routes.push_back(std::move(child));
      }
    }
  }
  mr.Finish();
}

// A URL that may carry a token (Slack, webhooks): checked, never echoed.
void SecretUrl(Decoder& d, const YAML::Node& node, const std::string& field, std::string* out) {
  std::string text;
  if (!d.String(node, field, &text)) return;
  if (!(text.starts_with("http://") || text.starts_with("https://")) || text.size() < 9 ||
      text.find_first_of(" \t\r\n") != std::string::npos) {
    d.Report(node, field, "expected an http:// or https:// URL (the value is not shown: it may hold a secret)");
    return;
  }
  *out = std::move(text);
}

// Where the template parse error "LINE:COL: reason" lies in the config file,
// for the scalar styles that keep the text as written: a plain or quoted
// one-line value, and a literal block (`|`). Nullopt for the others.
std::optional<std::pair<int, int>> PositionInFile(std::string_view source, const YAML::Node& node,
                                                  const std::string& error) {
  int line = 0, col = 0;
  if (std::sscanf(error.c_str(), "%d:%d:", &line, &col) != 2 || line < 1 || col < 1) return std::nullopt;
  YAML::Mark m = node.Mark();
  if (m.is_null() || m.pos < 0 || static_cast<size_t>(m.pos) >= source.size()) return std::nullopt;
  const std::string& text = node.Scalar();
  char first = source[m.pos];
  if (first == '|') {
    // The block's lines start on the line after the indicator; the first one sets the indent.
    size_t start = source.find('\n', m.pos);
    if (start == std::string_view::npos) return std::nullopt;
    size_t indent = 0;
    while (start + 1 + indent < source.size() && source[start + 1 + indent] == ' ') ++indent;
    if (start + 1 + indent < source.size() && source[start + 1 + indent] == '\n')
      return std::nullopt;  // blank first line
    return std::make_pair(m.line + 1 + line, static_cast<int>(indent) + col);
  }
  if (line != 1 || text.find('\n') != std::string::npos) return std::nullopt;
  bool quoted = first == '\'' || first == '"';
  // Only where the value is written exactly as its text (no escapes before the error).
  std::string_view written = source.substr(m.pos + (quoted ? 1 : 0), col - 1);
  if (written != std::string_view(text).substr(0, col - 1)) return std::nullopt;
  return std::make_pair(m.line + 1, m.column + (quoted ? 1 : 0) + col);
}

// A notification template (Go text/template over Alertmanager's data).
// Taken verbatim, without ${VAR} expansion: a rendered message is shown in
// the outbox and the API, so a template must never pull a secret into it.
void NotificationTemplate(Decoder& d, const YAML::Node& node, const std::string& field, std::string* out) {
  if (!node.IsScalar()) {
    d.Report(node, field, std::string("expected a template string, got ") + Decoder::KindName(node));
    return;
  }
  Result<tmpl::Template> t = tmpl::Template::Parse(node.Scalar());
  if (!t.ok()) {
    const std::string m = t.status().message();
    if (auto at = PositionInFile(d.source, node, m)) {
      d.problems->push_back(
          {d.file, at->first, at->second, field + ": invalid template: " + m.substr(m.find(": ") + 2)});
    } else {
      d.Report(node, field, "invalid template: " + m + " (line:column within the template)");
    }
    return;
  }
  if (d.template_library) t->Use(*d.template_library);
  std::vector<std::string> defined = t->DefinedNames();
  for (const auto& name : t->CalledNames()) {
    if (std::find(defined.begin(), defined.end(), name) != defined.end()) continue;
    std::string known;
    for (const auto& k : defined) known += (known.empty() ? "" : ", ") + k;
    d.Report(node, field,
             "template \"" + name +
                 "\" is not defined (alerting.templates defines: " + (known.empty() ? "none" : known) + ")");
    return;
  }
  *out = node.Scalar();
}

template <typename T>
void DecodeIntegrations(Decoder& d, MapReader& r, const char* key,
                        const std::function<void(MapReader&, const YAML::Node&, const std::string&, T*)>& fields,
                        std::vector<T>* out) {
  ForEachMapping(d, r, key, [&](MapReader& ir, const YAML::Node& item, const std::string& path) {
    T t;
    if (auto n = ir.Take("send_resolved"); n.IsDefined()) d.Bool(n, ir.Field("send_resolved"), &t.send_resolved);
    fields(ir, item, path, &t);
    out->push_back(std::move(t));
  });
}

void DecodeReceiver(Decoder& d, const YAML::Node& node, const std::string& path, ReceiverOptions* rc) {
  MapReader r(d, node, path);
  if (!node.IsMap()) return;
  if (auto n = r.Take("name"); !n.IsDefined()) {
    d.Report(node, path, "missing name");
  } else {
    d.String(n, r.Field("name"), &rc->name);
  }
  DecodeIntegrations<WebhookConfig>(
      d, r, "webhook_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, WebhookConfig* w) {
        if (auto n = ir.Take("url"); n.IsDefined()) {
          SecretUrl(d, n, ir.Field("url"), &w->url);
        } else {
          d.Report(item, path, "a webhook needs url");
        }
        if (auto n = ir.Take("max_alerts"); n.IsDefined()) d.Int(n, ir.Field("max_alerts"), &w->max_alerts, 0, 100000);
      },
      &rc->webhook_configs);
  DecodeIntegrations<PagerDutyConfig>(
      d, r, "pagerduty_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, PagerDutyConfig* p) {
        if (auto n = ir.Take("routing_key"); n.IsDefined()) {
          if (d.String(n, ir.Field("routing_key"), &p->routing_key) && p->routing_key.empty()) {
            d.Report(n, ir.Field("routing_key"), "must not be empty");
          }
        } else {
          d.Report(item, path, "PagerDuty needs routing_key (an Events API v2 integration key)");
        }
        if (auto n = ir.Take("url"); n.IsDefined()) d.Url(n, ir.Field("url"), &p->url);
        if (auto n = ir.Take("description"); n.IsDefined())
          NotificationTemplate(d, n, ir.Field("description"), &p->description);
        if (auto n = ir.Take("details"); n.IsDefined()) {
          if (!n.IsMap()) {
            d.Report(n, ir.Field("details"), std::string("expected a mapping, got ") + Decoder::KindName(n));
          } else {
            for (auto it = n.begin(); it != n.end(); ++it) {
              std::string key = it->first.Scalar();
              NotificationTemplate(d, it->second, ir.Field("details") + "." + key, &p->details[key]);
            }
          }
        }
      },
      &rc->pagerduty_configs);
  DecodeIntegrations<SlackConfig>(
      d, r, "slack_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, SlackConfig* s) {
        if (auto n = ir.Take("api_url"); n.IsDefined()) {
          SecretUrl(d, n, ir.Field("api_url"), &s->api_url);
        } else {
          d.Report(item, path, "Slack needs api_url (an incoming-webhook URL)");
        }
        if (auto n = ir.Take("channel"); n.IsDefined()) d.String(n, ir.Field("channel"), &s->channel);
        if (auto n = ir.Take("title"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("title"), &s->title);
        if (auto n = ir.Take("text"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("text"), &s->text);
      },
      &rc->slack_configs);
  auto required = [&](MapReader& ir, const YAML::Node& item, const std::string& path, const char* key,
                      std::string* out) {
    if (auto n = ir.Take(key); n.IsDefined()) {
      if (d.String(n, ir.Field(key), out) && out->empty()) d.Report(n, ir.Field(key), "must not be empty");
    } else {
      d.Report(item, path, std::string("missing ") + key);
    }
  };
  DecodeIntegrations<TelegramConfig>(
      d, r, "telegram_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, TelegramConfig* t) {
        required(ir, item, path, "bot_token", &t->bot_token);
        required(ir, item, path, "chat_id", &t->chat_id);
        if (auto n = ir.Take("api_url"); n.IsDefined()) d.Url(n, ir.Field("api_url"), &t->api_url);
        if (auto n = ir.Take("message"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("message"), &t->message);
      },
      &rc->telegram_configs);
  DecodeIntegrations<DiscordConfig>(
      d, r, "discord_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, DiscordConfig* c) {
        if (auto n = ir.Take("webhook_url"); n.IsDefined()) {
          SecretUrl(d, n, ir.Field("webhook_url"), &c->webhook_url);
        } else {
          d.Report(item, path, "missing webhook_url");
        }
        if (auto n = ir.Take("title"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("title"), &c->title);
        if (auto n = ir.Take("message"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("message"), &c->message);
      },
      &rc->discord_configs);
  DecodeIntegrations<TwilioConfig>(
      d, r, "twilio_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, TwilioConfig* t) {
        required(ir, item, path, "account_sid", &t->account_sid);
        required(ir, item, path, "auth_token", &t->auth_token);
        required(ir, item, path, "from", &t->from);
        required(ir, item, path, "to", &t->to);
        if (auto n = ir.Take("api_url"); n.IsDefined()) d.Url(n, ir.Field("api_url"), &t->api_url);
        if (auto n = ir.Take("severities"); n.IsDefined()) {
          t->severities.clear();
          d.StringList(n, ir.Field("severities"), &t->severities);
        }
        if (auto n = ir.Take("text"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("text"), &t->text);
      },
      &rc->twilio_configs);
  DecodeIntegrations<EmailConfig>(
      d, r, "email_configs",
      [&](MapReader& ir, const YAML::Node& item, const std::string& path, EmailConfig* e) {
        required(ir, item, path, "to", &e->to);
        required(ir, item, path, "from", &e->from);
        if (auto n = ir.Take("smarthost"); n.IsDefined()) {
          d.HostPort(n, ir.Field("smarthost"), &e->smarthost);
        } else {
          d.Report(item, path, "missing smarthost (HOST:PORT of the SMTP server)");
        }
        if (auto n = ir.Take("auth_username"); n.IsDefined()) d.String(n, ir.Field("auth_username"), &e->auth_username);
        if (auto n = ir.Take("auth_password"); n.IsDefined()) {
          if (!n.IsScalar()) {
            d.Report(n, ir.Field("auth_password"), "expected a string");
          } else if (Result<std::string> v = ExpandVariables(n.Scalar(), d.env); !v.ok()) {
            d.Report(n, ir.Field("auth_password"), v.status().message());
          } else {
            e->auth_password = std::move(*v);
          }
        }
        if (auto n = ir.Take("require_tls"); n.IsDefined()) d.Bool(n, ir.Field("require_tls"), &e->require_tls);
        if (auto n = ir.Take("tls_insecure_skip_verify"); n.IsDefined()) {
          d.Bool(n, ir.Field("tls_insecure_skip_verify"), &e->tls_insecure_skip_verify);
        }
        if (auto n = ir.Take("subject"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("subject"), &e->subject);
        if (auto n = ir.Take("text"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("text"), &e->text);
        if (auto n = ir.Take("html"); n.IsDefined()) NotificationTemplate(d, n, ir.Field("html"), &e->html);
      },
      &rc->email_configs);
  r.Finish();
}

// alerting.templates: Alertmanager's template files of {{define "name"}}
// blocks. Read and parsed now (problems carry the template file's own
// line:column); a name defined twice: the later file wins.
void DecodeTemplateFiles(Decoder& d, const YAML::Node& node, const std::string& base_dir, AlertingOptions* a) {
  std::vector<std::string> files;
  DecodeFileList(d, node, "alerting.templates", base_dir, &a->template_patterns, &files);
  tmpl::Template library;
  auto texts = std::make_shared<std::vector<TemplateFile>>();
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    Result<std::string> text = ReadFile(*it, kMaxConfigBytes);
    if (!text.ok()) {
      d.problems->push_back({*it, 0, 0, "cannot read template file: " + ReasonOf(text.status())});
      continue;
    }
    Result<tmpl::Template> t = tmpl::Template::Parse(*text);
    if (!t.ok()) {
      // "LINE:COL: reason" becomes the problem's own position in that file.
      const std::string m = t.status().message();  // a copy: status() returns a temporary
      int line = 0, col = 0, used = 0;
      if (std::sscanf(m.c_str(), "%d:%d: %n", &line, &col, &used) == 2 && used > 0) {
        d.problems->push_back({*it, line, col, "invalid template: " + m.substr(used)});
      } else {
        d.problems->push_back({*it, 0, 0, "invalid template: " + m});
      }
      continue;
    }
    library.Use(*t);
    texts->insert(texts->begin(), {*it, std::move(*text)});
  }
  a->template_files = std::move(texts);
  d.template_library = std::move(library);
}

// A recurring window's fields (name, weekdays, times, location), checked
// as alert::MaintenanceWindow::Build checks them; `wr` is left to Finish.
void DecodeWeeklyWindow(Decoder& d, MapReader& wr, const YAML::Node& node, const std::string& path,
                        alert::MaintenanceWindowSpec* w) {
  if (auto m = wr.Take("name"); m.IsDefined()) d.String(m, wr.Field("name"), &w->name);
  if (auto m = wr.Take("weekdays"); m.IsDefined()) d.StringList(m, wr.Field("weekdays"), &w->weekdays);
  if (auto m = wr.Take("location"); m.IsDefined()) d.String(m, wr.Field("location"), &w->location);
  if (auto m = wr.Take("times"); m.IsDefined()) {
    if (!m.IsSequence()) {
      d.Report(m, wr.Field("times"), std::string("expected a list, got ") + Decoder::KindName(m));
    } else {
      for (size_t j = 0; j < m.size(); ++j) {
        MapReader tr(d, m[j], wr.Field("times") + "[" + std::to_string(j) + "]");
        alert::MaintenanceWindowSpec::Range range;
        if (auto t = tr.Take("start"); t.IsDefined()) d.String(t, tr.Field("start"), &range.start);
        if (auto t = tr.Take("end"); t.IsDefined()) d.String(t, tr.Field("end"), &range.end);
        tr.Finish();
        w->times.push_back(std::move(range));
      }
    }
  }
  wr.Finish();
  // The window's own checks (weekday names, HH:MM, the time zone) report at the window.
  if (Result<alert::MaintenanceWindow> built = alert::MaintenanceWindow::Build(*w, path); !built.ok()) {
    // "<path>.location: why" -> field "<path>.location", reason "why".
    std::string msg = built.status().message();
    size_t colon = msg.find(": ");
    if (msg.starts_with(path) && colon != std::string::npos) {
      d.Report(node, msg.substr(0, colon), msg.substr(colon + 2));
    } else {
      d.Report(node, path, msg);
    }
  }
}

void DecodeAlerting(Decoder& d, const YAML::Node& node, const std::string& base_dir, AlertingOptions* a) {
  MapReader r(d, node, "alerting");
  if (!node.IsMap()) return;
  // First: the receivers' templates may call what these define.
  if (auto n = r.Take("templates"); n.IsDefined()) DecodeTemplateFiles(d, n, base_dir, a);
  std::set<std::string> names;
  if (auto n = r.Take("receivers"); n.IsDefined()) {
    if (!n.IsSequence()) {
      d.Report(n, r.Field("receivers"), std::string("expected a list, got ") + Decoder::KindName(n));
    } else {
      for (size_t i = 0; i < n.size(); ++i) {
        ReceiverOptions rc;
        DecodeReceiver(d, n[i], r.Field("receivers") + "[" + std::to_string(i) + "]", &rc);
        if (!rc.name.empty() && !names.insert(rc.name).second) {
          d.Report(n[i], r.Field("receivers") + "[" + std::to_string(i) + "].name",
                   "duplicate receiver \"" + rc.name + "\"");
        }
        rc.template_files = a->template_files;
        a->receivers.push_back(std::move(rc));
      }
    }
  }
  if (auto n = r.Take("route"); n.IsDefined()) {
    DecodeRoute(d, n, r.Field("route"), names, true, &a->route);
  } else if (!node["alertmanagers"].IsDefined()) {
    d.Report(node, "alerting", "missing route (at least {receiver: NAME}) or alertmanagers to forward to");
  }
  ForEachMapping(d, r, "inhibit_rules", [&](MapReader& ir, const YAML::Node& item, const std::string& path) {
    alert::InhibitRuleSpec spec;
    if (auto m = ir.Take("source_matchers"); m.IsDefined()) {
      DecodeMatcherList(d, m, ir.Field("source_matchers"), &spec.source_matchers);
    }
    if (auto m = ir.Take("target_matchers"); m.IsDefined()) {
      DecodeMatcherList(d, m, ir.Field("target_matchers"), &spec.target_matchers);
    }
    if (auto m = ir.Take("equal"); m.IsDefined()) d.StringList(m, ir.Field("equal"), &spec.equal);
    if (spec.source_matchers.empty() || spec.target_matchers.empty()) {
      d.Report(item, path, "needs source_matchers and target_matchers");
    }
    a->inhibit_rules.push_back(std::move(spec));
  });
  if (auto n = r.Take("maintenance_windows"); n.IsDefined()) {
    if (!n.IsSequence()) {
      d.Report(n, r.Field("maintenance_windows"), std::string("expected a list, got ") + Decoder::KindName(n));
    } else {
      for (size_t i = 0; i < n.size(); ++i) {
        std::string path = r.Field("maintenance_windows") + "[" + std::to_string(i) + "]";
        MapReader wr(d, n[i], path);
        if (!n[i].IsMap()) continue;
        alert::MaintenanceWindowSpec w;
        if (auto m = wr.Take("matchers"); m.IsDefined()) DecodeMatcherList(d, m, wr.Field("matchers"), &w.matchers);
        DecodeWeeklyWindow(d, wr, n[i], path, &w);
        a->maintenance_windows.push_back(std::move(w));
      }
    }
  }
  ForEachMapping(d, r, "alertmanagers", [&](MapReader& ar, const YAML::Node& item, const std::string& path) {
    AlertmanagerTarget t;
    if (auto u = ar.Take("url"); u.IsDefined()) {
      d.Url(u, ar.Field("url"), &t.url);
    } else {
      d.Report(item, path, "missing url (e.g. http://127.0.0.1:9093)");
    }
    if (auto ri = ar.Take("resend_interval"); ri.IsDefined()) {
      d.Duration(ri, ar.Field("resend_interval"), &t.resend_interval, false);
    }
    a->alertmanagers.push_back(std::move(t));
  });
  if (auto n = r.Take("flap"); n.IsDefined()) {
    MapReader fr(d, n, r.Field("flap"));
    if (auto m = fr.Take("enabled"); m.IsDefined()) d.Bool(m, fr.Field("enabled"), &a->flap.enabled);
    if (auto m = fr.Take("max_changes"); m.IsDefined())
      d.Int(m, fr.Field("max_changes"), &a->flap.max_changes, 1, 1000);
    if (auto m = fr.Take("window"); m.IsDefined()) d.Duration(m, fr.Field("window"), &a->flap.window, false);
    if (auto m = fr.Take("stable_for"); m.IsDefined()) {
      d.Duration(m, fr.Field("stable_for"), &a->flap.stable_for, false);
    }
    fr.Finish();
  }
  if (auto n = r.Take("severities"); n.IsDefined()) {
    if (!n.IsMap()) {
      d.Report(n, r.Field("severities"),
               std::string("expected a mapping of severity to P0..P3, got ") + Decoder::KindName(n));
    } else {
      for (auto it = n.begin(); it != n.end(); ++it) {
        std::string severity = it->first.Scalar(), priority;
        std::string field = r.Field("severities") + "." + severity;
        if (!d.String(it->second, field, &priority)) continue;
        if (std::optional<Priority> p = ParsePriority(priority)) {
          a->severities.Set(std::move(severity), *p);
        } else {
          d.Report(it->second, field, "expected P0, P1, P2 or P3, got \"" + priority + "\"");
        }
      }
    }
  }
  r.Finish();
}

void DecodeSystemd(Decoder& d, const YAML::Node& node, SystemdOptions* s) {
  MapReader r(d, node, "systemd");
  if (auto n = r.Take("bus"); n.IsDefined()) {
    std::string bus;
    if (d.String(n, r.Field("bus"), &bus)) {
      if (bus == "system") {
        s->bus = BusKind::kSystem;
      } else if (bus == "user") {
        s->bus = BusKind::kUser;
      } else {
        d.Report(n, r.Field("bus"),
                 Decoder::Explain(n, bus, "expected system or user, got \"" + bus + "\"", "system or user"));
      }
    }
  }
  r.Finish();
}

// Names of probes, extracted values and log rules become metric or label
// values, so they are held to metric-name syntax.
bool CheckMetricName(Decoder& d, const YAML::Node& node, const std::string& field, const std::string& name) {
  if (IsValidMetricName(name) && name.find(':') == std::string::npos) return true;
  d.Report(node, field, "\"" + name + "\" is not a valid name (letters, digits and _, not starting with a digit)");
  return false;
}

// `interval` defaults to global.scrape_interval, `timeout` to the smaller of
// interval and 10s and must not exceed the interval.
void DecodeTiming(Decoder& d, MapReader& r, const std::string& what, const GlobalOptions& g, Duration* interval,
                  Duration* timeout, Duration default_interval = Duration(0)) {
  *interval = default_interval.count() > 0 ? default_interval : g.scrape_interval;
  if (auto n = r.Take("interval"); n.IsDefined()) d.Duration(n, r.Field("interval"), interval, false);
  *timeout = std::min(*interval, Duration(10000));
  if (auto n = r.Take("timeout"); n.IsDefined()) {
    d.Duration(n, r.Field("timeout"), timeout, false);
    if (*timeout > *interval) d.Report(n, r.Field("timeout"), "must not be longer than " + what + ".interval");
  }
}

// RFC 9110 token characters: what a header name may hold.
constexpr std::string_view kHeaderNameChars =
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// A secret given as `<field>_file`: the file's content without its final
// newline. False after reporting a problem (which names the file, never its content).
bool ReadSecretFile(Decoder& d, const YAML::Node& node, const std::string& field, std::string* path,
                    std::string* secret) {
  if (!d.String(node, field, path)) return false;
  Result<std::string> content = ReadFile(*path, 64 << 10);
  if (!content.ok()) {
    d.Report(node, field, "cannot read " + *path + ": " + ReasonOf(content.status()));
    return false;
  }
  std::string v = std::move(*content);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  *secret = std::move(v);
  return true;
}

// A secret given inline, ${VAR} expanded; never quoted in a problem, whatever its origin.
void ReadSecret(Decoder& d, const YAML::Node& node, const std::string& field, std::string* secret) {
  if (!node.IsScalar()) {
    d.Report(node, field, std::string("expected a string, got ") + Decoder::KindName(node));
    return;
  }
  Result<std::string> v = ExpandVariables(node.Scalar(), d.env);
  if (!v.ok()) {
    d.Report(node, field, v.status().message());
  } else {
    *secret = std::move(*v);
  }
}

// user + password | password_file, or cookie_file; never both kinds.
// `user_key` is "user" in vigil's own sections, "username" in Prometheus-shaped ones.
void DecodeAuth(Decoder& d, MapReader& r, const std::string& path, bool allow_cookie, EndpointAuth* a,
                const std::string& user_key = "user") {
  YAML::Node user = r.Take(user_key), password = r.Take("password"), password_file = r.Take("password_file");
  YAML::Node cookie = allow_cookie ? r.Take("cookie_file") : YAML::Node(YAML::NodeType::Undefined);
  if (user.IsDefined()) d.String(user, r.Field(user_key), &a->user);
  if (password.IsDefined()) ReadSecret(d, password, r.Field("password"), &a->password);
  if (password_file.IsDefined()) {
    ReadSecretFile(d, password_file, r.Field("password_file"), &a->password_file, &a->password);
  }
  if (cookie.IsDefined()) d.String(cookie, r.Field("cookie_file"), &a->cookie_file);
  if (password.IsDefined() && password_file.IsDefined()) {
    d.Report(password_file, path, "set password or password_file, not both");
  }
  if ((password.IsDefined() || password_file.IsDefined()) && !user.IsDefined()) {
    d.Report(password.IsDefined() ? password : password_file, path, "a password needs a " + user_key);
  }
  if (user.IsDefined() && !password.IsDefined() && !password_file.IsDefined()) {
    d.Report(user, path, user_key + " needs password or password_file");
  }
  if (cookie.IsDefined() && user.IsDefined()) {
    d.Report(cookie, path, "set cookie_file or user/password, not both");
  }
}

void DecodeRemoteWrite(Decoder& d, const YAML::Node& node, std::vector<RemoteWriteTarget>* out) {
  if (!node.IsSequence()) {
    d.Report(node, "remote_write", std::string("expected a list, got ") + Decoder::KindName(node));
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string path = "remote_write[" + std::to_string(i) + "]";
    MapReader r(d, node[i], path);
    if (!node[i].IsMap()) continue;
    RemoteWriteTarget t;
    if (auto n = r.Take("url"); !n.IsDefined()) {
      d.Report(node[i], path, "missing url (e.g. http://127.0.0.1:8428/api/v1/write)");
    } else {
      d.Url(n, r.Field("url"), &t.url);
    }
    YAML::Node name_node = r.Take("name");
    if (name_node.IsDefined()) {
      if (d.String(name_node, r.Field("name"), &t.name) && t.name.empty()) {
        d.Report(name_node, r.Field("name"), "must not be empty");
      }
    } else if (std::optional<http::ParsedUrl> u = http::ParseUrl(t.url)) {
      t.name = u->host + ":" + std::to_string(u->port);
    }
    if (!t.name.empty() && !names.insert(t.name).second) {
      d.Report(name_node.IsDefined() ? name_node : node[i], r.Field("name"),
               "duplicate name \"" + t.name + "\" (set name: to tell targets apart)");
    }
    if (auto n = r.Take("remote_timeout"); n.IsDefined()) {
      d.Duration(n, r.Field("remote_timeout"), &t.remote_timeout, false);
    }
    if (auto n = r.Take("headers"); n.IsDefined()) {
      MapReader hr(d, n, r.Field("headers"));
      if (n.IsMap()) {
        for (auto it = n.begin(); it != n.end(); ++it) {
          std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
          hr.Take(key);
          if (key.empty() || key.find_first_not_of(kHeaderNameChars) != std::string::npos) {
            d.Report(it->first, hr.Field(key), "not a valid header name");
            continue;
          }
          ReadSecret(d, it->second, hr.Field(key), &t.headers[key]);
        }
      }
    }
    if (auto n = r.Take("basic_auth"); n.IsDefined()) {
      MapReader ar(d, n, r.Field("basic_auth"));
      DecodeAuth(d, ar, r.Field("basic_auth"), /*allow_cookie=*/false, &t.basic_auth, "username");
      ar.Finish();
    }
    if (auto n = r.Take("authorization"); n.IsDefined()) {
      MapReader ar(d, n, r.Field("authorization"));
      if (auto ty = ar.Take("type"); ty.IsDefined()) {
        std::string type;
        if (d.String(ty, ar.Field("type"), &type) && type != "Bearer") {
          d.Report(ty, ar.Field("type"), "only Bearer is supported, got \"" + type + "\"");
        }
      }
      YAML::Node cred = ar.Take("credentials"), cred_file = ar.Take("credentials_file");
      std::string file;
      if (cred.IsDefined()) ReadSecret(d, cred, ar.Field("credentials"), &t.bearer_token);
      if (cred_file.IsDefined()) ReadSecretFile(d, cred_file, ar.Field("credentials_file"), &file, &t.bearer_token);
      if (cred.IsDefined() == cred_file.IsDefined()) {
        d.Report(n, r.Field("authorization"), "set one of credentials or credentials_file");
      }
      ar.Finish();
    }
    if (t.basic_auth.user.size() && t.bearer_token.size()) {
      d.Report(node[i], path, "set basic_auth or authorization, not both");
    }
    if (auto n = r.Take("tls_config"); n.IsDefined()) {
      MapReader tr(d, n, r.Field("tls_config"));
      if (auto f = tr.Take("ca_file"); f.IsDefined()) d.String(f, tr.Field("ca_file"), &t.tls_ca_file);
      if (auto f = tr.Take("cert_file"); f.IsDefined()) d.String(f, tr.Field("cert_file"), &t.tls_cert_file);
      if (auto f = tr.Take("key_file"); f.IsDefined()) d.String(f, tr.Field("key_file"), &t.tls_key_file);
      if (auto f = tr.Take("insecure_skip_verify"); f.IsDefined()) {
        d.Bool(f, tr.Field("insecure_skip_verify"), &t.tls_insecure_skip_verify);
      }
      if (t.tls_cert_file.empty() != t.tls_key_file.empty()) {
        d.Report(n, r.Field("tls_config"), "cert_file and key_file go together");
      }
      tr.Finish();
    }
    if (auto n = r.Take("queue_config"); n.IsDefined()) {
      MapReader qr(d, n, r.Field("queue_config"));
      if (auto f = qr.Take("min_shards"); f.IsDefined()) d.Int(f, qr.Field("min_shards"), &t.min_shards, 1, 200);
      if (auto f = qr.Take("max_shards"); f.IsDefined()) d.Int(f, qr.Field("max_shards"), &t.max_shards, 1, 200);
      if (auto f = qr.Take("max_samples_per_send"); f.IsDefined()) {
        d.Int(f, qr.Field("max_samples_per_send"), &t.max_samples_per_send, 1, 100000);
      }
      if (auto f = qr.Take("batch_send_deadline"); f.IsDefined()) {
        d.Duration(f, qr.Field("batch_send_deadline"), &t.batch_send_deadline, false);
      }
      if (auto f = qr.Take("min_backoff"); f.IsDefined()) d.Duration(f, qr.Field("min_backoff"), &t.min_backoff, false);
      if (auto f = qr.Take("max_backoff"); f.IsDefined()) d.Duration(f, qr.Field("max_backoff"), &t.max_backoff, false);
      if (auto f = qr.Take("retry_on_http_429"); f.IsDefined()) {
        d.Bool(f, qr.Field("retry_on_http_429"), &t.retry_on_http_429);
      }
      if (t.min_shards > t.max_shards) d.Report(n, r.Field("queue_config"), "min_shards is above max_shards");
      if (t.min_backoff > t.max_backoff) d.Report(n, r.Field("queue_config"), "min_backoff is above max_backoff");
      qr.Finish("(vigil's queue reads the WAL, so Prometheus's capacity has no meaning here)");
    }
    if (auto n = r.Take("write_relabel_configs"); n.IsDefined()) {
      std::vector<relabel::ParseProblem> problems;
      t.write_relabel_configs = relabel::ParseRules(n, r.Field("write_relabel_configs"), &problems);
      for (auto& p : problems) {
        d.problems->push_back({d.file, p.line, p.column, p.field.empty() ? p.message : p.field + ": " + p.message});
      }
    }
    if (auto n = r.Take("max_backlog"); n.IsDefined()) {
      std::string text;
      if (d.String(n, r.Field("max_backlog"), &text)) {
        Result<uint64_t> size = ParseByteSize(text);
        if (!size.ok() || *size < (64u << 20)) {
          d.Report(n, r.Field("max_backlog"), "expected a size of at least 64MiB (e.g. 2GiB)");
        } else {
          t.max_backlog_bytes = *size;
        }
      }
    }
    if (auto n = r.Take("resolution"); n.IsDefined()) {
      // Steps must tile a day, so every step starts at the same clock times as the store's.
      if (n.IsScalar() && n.Scalar() == "raw") {
        t.resolution = Duration(0);
      } else if (d.Duration(n, r.Field("resolution"), &t.resolution, false);
                 t.resolution.count() > 0 && (t.resolution.count() < 1000 || 86400000 % t.resolution.count() != 0)) {
        d.Report(n, r.Field("resolution"), "expected raw or a step that divides a day (e.g. 5m, 1h), got " +
                                               FormatDuration(t.resolution));
        t.resolution = Duration(0);
      }
    }
    if (auto n = r.Take("resolution_delay"); n.IsDefined()) {
      d.Duration(n, r.Field("resolution_delay"), &t.resolution_delay, true);
    }
    if (auto n = r.Take("aggregates"); n.IsDefined()) {
      std::vector<std::string> names;
      d.StringList(n, r.Field("aggregates"), &names);
      static const std::set<std::string> kKnown = {"last", "min", "max", "sum", "count"};
      std::set<std::string> seen;
      for (const std::string& a : names) {
        if (!kKnown.contains(a)) {
          d.Report(n, r.Field("aggregates"), "unknown aggregate \"" + a + "\" (last, min, max, sum or count)");
        } else if (!seen.insert(a).second) {
          d.Report(n, r.Field("aggregates"), "\"" + a + "\" is listed twice");
        }
      }
      if (names.empty()) d.Report(n, r.Field("aggregates"), "must name at least one aggregate");
      if (t.resolution.count() == 0) {
        d.Report(n, r.Field("aggregates"), "applies only with a resolution (e.g. resolution: 5m); raw samples have none");
      }
      t.aggregates = std::move(names);
    }
    r.Finish();
    out->push_back(std::move(t));
  }
}

// YAML to JSON for JSON-RPC params: plain scalars that read as numbers,
// booleans or null stay bare; everything else (and every quoted scalar) is a string.
bool ToJson(Decoder& d, const YAML::Node& node, const std::string& field, std::string* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null: *out += "null"; return true;
    case YAML::NodeType::Sequence: {
      *out += '[';
      for (size_t i = 0; i < node.size(); ++i) {
        if (i) *out += ',';
        if (!ToJson(d, node[i], field + "[" + std::to_string(i) + "]", out)) return false;
      }
      *out += ']';
      return true;
    }
    case YAML::NodeType::Map: {
      *out += '{';
      bool first = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!first) *out += ',';
        first = false;
        std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
        *out += '"';
        for (char ch : k) {
          if (ch == '"' || ch == '\\') *out += '\\';
          *out += ch;
        }
        *out += "\":";
        if (!ToJson(d, it->second, field + "." + k, out)) return false;
      }
      *out += '}';
      return true;
    }
    case YAML::NodeType::Scalar: {
      std::string v;
      if (!d.String(node, field, &v)) return false;
      bool plain = node.Tag() == "?";
      if (plain && (v == "true" || v == "false" || v == "null" || ParseDouble(v).has_value()) &&
          v.find_first_of("xXinfINFaA") == std::string::npos) {
        *out += v;
        return true;
      }
      *out += '"';
      for (unsigned char ch : v) {
        if (ch == '"' || ch == '\\') {
          *out += '\\';
          *out += static_cast<char>(ch);
        } else if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          *out += buf;
        } else {
          *out += static_cast<char>(ch);
        }
      }
      *out += '"';
      return true;
    }
    default: d.Report(node, field, "expected a value"); return false;
  }
}

void DecodeProbe(Decoder& d, const YAML::Node& node, const std::string& path, const GlobalOptions& g, ProbeOptions* p) {
  MapReader r(d, node, path);
  if (!node.IsMap()) return;
  YAML::Node name = r.Take("name"), type = r.Take("type");
  if (!name.IsDefined()) {
    d.Report(node, path, "missing name");
  } else if (d.String(name, r.Field("name"), &p->name)) {
    CheckMetricName(d, name, r.Field("name"), p->name);
  }
  if (!type.IsDefined()) {
    d.Report(node, path, "missing type (http, tcp, jsonrpc or tls)");
  } else if (d.String(type, r.Field("type"), &p->type) && p->type != "http" && p->type != "tcp" &&
             p->type != "jsonrpc" && p->type != "tls") {
    d.Report(type, r.Field("type"), "expected http, tcp, jsonrpc or tls, got \"" + p->type + "\"");
    p->type.clear();
  }
  YAML::Node url = r.Take("url"), target = r.Take("target"), file = r.Take("file"), method = r.Take("method");
  YAML::Node params = r.Take("params"), extract = r.Take("extract"), headers = r.Take("headers");
  YAML::Node skip = r.Take("tls_insecure_skip_verify"), body = r.Take("body_regex"), status = r.Take("expected_status");
  YAML::Node json_pointer = r.Take("json_pointer"), json_equals = r.Take("json_equals");
  YAML::Node version = r.Take("jsonrpc_version");
  if (url.IsDefined()) d.Url(url, r.Field("url"), &p->url);
  if (target.IsDefined()) d.HostPort(target, r.Field("target"), &p->target);
  if (file.IsDefined()) d.String(file, r.Field("file"), &p->file);
  if (method.IsDefined()) d.String(method, r.Field("method"), &p->method);
  if (params.IsDefined()) {
    if (!params.IsSequence() && !params.IsMap()) {
      d.Report(params, r.Field("params"),
               std::string("expected a list or a mapping, got ") + Decoder::KindName(params));
    } else {
      std::string json;
      if (ToJson(d, params, r.Field("params"), &json)) p->params_json = std::move(json);
    }
  }
  if (extract.IsDefined()) {
    if (!extract.IsMap()) {
      d.Report(extract, r.Field("extract"),
               std::string("expected a mapping of name: /json/pointer, got ") + Decoder::KindName(extract));
    } else {
      for (auto it = extract.begin(); it != extract.end(); ++it) {
        std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
        std::string field = r.Field("extract") + "." + key, pointer;
        if (!CheckMetricName(d, it->first, field, key)) continue;
        if (!d.String(it->second, field, &pointer)) continue;
        if (!pointer.empty() && pointer[0] != '/') {
          d.Report(it->second, field,
                   "a JSON pointer is empty or starts with \"/\" (e.g. /result/height), got \"" + pointer + "\"");
          continue;
        }
        p->extract[key] = pointer;
      }
    }
  }
  if (headers.IsDefined()) {
    if (!headers.IsMap()) {
      d.Report(headers, r.Field("headers"), std::string("expected a mapping, got ") + Decoder::KindName(headers));
    } else {
      for (auto it = headers.begin(); it != headers.end(); ++it) {
        std::string key = it->first.IsScalar() ? it->first.Scalar() : "", value;
        bool token = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
        });
        if (!token) {
          d.Report(it->first, r.Field("headers"), "\"" + key + "\" is not a valid HTTP header name");
          continue;
        }
        // Header values often carry tokens: problems never quote them.
        if (!it->second.IsScalar()) {
          d.Report(it->second, r.Field("headers") + "." + key, "expected a string");
          continue;
        }
        Result<std::string> v = ExpandVariables(it->second.Scalar(), d.env);
        if (!v.ok()) {
          d.Report(it->second, r.Field("headers") + "." + key, v.status().message());
        } else if (v->find_first_of("\r\n") != std::string::npos) {
          d.Report(it->second, r.Field("headers") + "." + key, "must not contain a line break");
        } else {
          p->headers.emplace_back(key, std::move(*v));
        }
      }
    }
  }
  if (skip.IsDefined()) d.Bool(skip, r.Field("tls_insecure_skip_verify"), &p->tls_insecure_skip_verify);
  if (body.IsDefined()) d.Regex(body, r.Field("body_regex"), &p->body_regex);
  if (json_pointer.IsDefined() && d.String(json_pointer, r.Field("json_pointer"), &p->json_pointer) &&
      !p->json_pointer.empty() && p->json_pointer[0] != '/') {
    d.Report(json_pointer, r.Field("json_pointer"),
             "a JSON pointer is empty or starts with \"/\" (e.g. /status), got \"" + p->json_pointer + "\"");
  }
  if (json_equals.IsDefined()) {
    std::string json;
    if (ToJson(d, json_equals, r.Field("json_equals"), &json)) p->json_equals = std::move(json);
    if (!json_pointer.IsDefined()) d.Report(json_equals, r.Field("json_equals"), "needs json_pointer");
  }
  if (version.IsDefined() && d.String(version, r.Field("jsonrpc_version"), &p->jsonrpc_version) &&
      p->jsonrpc_version != "1.0" && p->jsonrpc_version != "2.0") {
    d.Report(version, r.Field("jsonrpc_version"), "expected \"1.0\" or \"2.0\", got \"" + p->jsonrpc_version + "\"");
  }
  if (status.IsDefined()) {
    std::vector<YAML::Node> items;
    if (status.IsSequence()) {
      for (size_t i = 0; i < status.size(); ++i) items.push_back(status[i]);
    } else {
      items.push_back(status);
    }
    for (const auto& item : items) {
      int code = 0;
      d.Int(item, r.Field("expected_status"), &code, 100, 599);
      if (code) p->expected_status.push_back(code);
    }
  }
  DecodeAuth(d, r, path, /*allow_cookie=*/true, &p->auth);
  DecodeTiming(d, r, path, g, &p->interval, &p->timeout);
  r.Finish();

  // What each type needs, and what it would silently ignore.
  auto needs = [&](bool ok, const std::string& what) {
    if (!ok) d.Report(node, path, "a " + p->type + " probe needs " + what);
  };
  auto ignores = [&](const YAML::Node& n, const std::string& key) {
    if (n.IsDefined()) d.Report(n, r.Field(key), "not used by a " + p->type + " probe");
  };
  if (p->type == "http") {
    needs(url.IsDefined(), "url");
    ignores(target, "target"), ignores(file, "file"), ignores(method, "method"), ignores(params, "params");
    ignores(version, "jsonrpc_version"), ignores(extract, "extract");
  } else if (p->type == "jsonrpc") {
    needs(url.IsDefined(), "url");
    needs(method.IsDefined(), "method");
    ignores(target, "target"), ignores(file, "file"), ignores(body, "body_regex");
    ignores(json_pointer, "json_pointer"), ignores(json_equals, "json_equals");
  } else if (p->type == "tcp") {
    needs(target.IsDefined(), "target (HOST:PORT)");
    for (auto& [n, k] : {std::pair{url, "url"},
                         {file, "file"},
                         {method, "method"},
                         {params, "params"},
                         {extract, "extract"},
                         {headers, "headers"},
                         {body, "body_regex"},
                         {status, "expected_status"},
                         {json_pointer, "json_pointer"},
                         {json_equals, "json_equals"},
                         {version, "jsonrpc_version"}})
      ignores(n, k);
  } else if (p->type == "tls") {
    if (int(url.IsDefined()) + int(target.IsDefined()) + int(file.IsDefined()) != 1) {
      d.Report(node, path, "a tls probe needs exactly one of target (HOST:PORT), url or file (a PEM certificate)");
    }
    for (auto& [n, k] : {std::pair{method, "method"},
                         {params, "params"},
                         {extract, "extract"},
                         {headers, "headers"},
                         {body, "body_regex"},
                         {status, "expected_status"},
                         {json_pointer, "json_pointer"},
                         {json_equals, "json_equals"},
                         {version, "jsonrpc_version"}})
      ignores(n, k);
  }
}

void DecodeScrape(Decoder& d, const YAML::Node& node, const GlobalOptions& g, std::vector<ScrapeTarget>* out) {
  if (!node.IsSequence()) {
    d.Report(node, "scrape", std::string("expected a list, got ") + Decoder::KindName(node));
    return;
  }
  std::set<std::string> jobs;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string path = "scrape[" + std::to_string(i) + "]";
    MapReader r(d, node[i], path);
    if (!node[i].IsMap()) continue;
    ScrapeTarget t;
    if (auto n = r.Take("job"); !n.IsDefined()) {
      d.Report(node[i], path, "missing job");
    } else if (d.String(n, r.Field("job"), &t.job)) {
      if (t.job.empty()) d.Report(n, r.Field("job"), "must not be empty");
      if (!jobs.insert(t.job).second) d.Report(n, r.Field("job"), "duplicate job \"" + t.job + "\"");
    }
    if (auto n = r.Take("url"); !n.IsDefined()) {
      d.Report(node[i], path, "missing url (e.g. http://127.0.0.1:9100/metrics)");
    } else {
      d.Url(n, r.Field("url"), &t.url);
    }
    if (auto n = r.Take("honor_labels"); n.IsDefined()) d.Bool(n, r.Field("honor_labels"), &t.honor_labels);
    if (auto n = r.Take("tls_insecure_skip_verify"); n.IsDefined()) {
      d.Bool(n, r.Field("tls_insecure_skip_verify"), &t.tls_insecure_skip_verify);
    }
    if (auto n = r.Take("sample_limit"); n.IsDefined()) {
      int limit = 0;
      d.Int(n, r.Field("sample_limit"), &limit, 0, 100000000);
      t.sample_limit = static_cast<uint64_t>(limit);
    }
    DecodeAuth(d, r, path, /*allow_cookie=*/false, &t.auth);
    DecodeTiming(d, r, path, g, &t.interval, &t.timeout);
    r.Finish();
    out->push_back(std::move(t));
  }
}

void DecodeBitcoind(Decoder& d, const YAML::Node& node, const std::string& path, const GlobalOptions& g,
                    BitcoindOptions* b) {
  MapReader r(d, node, path);
  if (auto n = r.Take("url"); n.IsDefined()) {
    d.Url(n, r.Field("url"), &b->url);
  } else if (node.IsMap()) {
    d.Report(node, path, "missing url (e.g. http://127.0.0.1:8332/)");
  }
  DecodeAuth(d, r, path, /*allow_cookie=*/true, &b->auth);
  DecodeTiming(d, r, path, g, &b->interval, &b->timeout);
  r.Finish();
}

void DecodeTitan(Decoder& d, const YAML::Node& node, const std::string& path, const GlobalOptions& g, TitanOptions* t) {
  MapReader r(d, node, path);
  if (auto n = r.Take("url"); n.IsDefined()) {
    d.Url(n, r.Field("url"), &t->url);
  } else if (node.IsMap()) {
    d.Report(node, path, "missing url (e.g. http://127.0.0.1:3030)");
  }
  DecodeTiming(d, r, path, g, &t->interval, &t->timeout);
  r.Finish();
}

void DecodeValidator(Decoder& d, const YAML::Node& node, const std::string& path, const GlobalOptions& g,
                     ValidatorOptions* v) {
  MapReader r(d, node, path);
  if (auto n = r.Take("url"); n.IsDefined()) {
    d.Url(n, r.Field("url"), &v->url);
  } else if (node.IsMap()) {
    d.Report(node, path, "missing url (e.g. http://127.0.0.1:9002/)");
  }
  if (auto n = r.Take("references"); n.IsDefined()) {
    if (!n.IsSequence()) {
      d.Report(n, r.Field("references"), std::string("expected a list, got ") + Decoder::KindName(n));
    } else {
      for (size_t i = 0; i < n.size(); ++i) {
        std::string field = r.Field("references") + "[" + std::to_string(i) + "]", text;
        if (!d.String(n[i], field, &text)) continue;
        // `${REF:-}` left empty means "no reference", so one config serves hosts with and without one.
        if (text.empty()) continue;
        std::string url;
        d.Url(n[i], field, &url);
        if (!url.empty()) v->references.push_back(std::move(url));
      }
    }
  }
  DecodeTiming(d, r, path, g, &v->interval, &v->timeout);
  r.Finish();
}

void DecodeLog(Decoder& d, const YAML::Node& node, const std::string& path, const GlobalOptions& g, LogOptions* l) {
  MapReader r(d, node, path);
  if (!node.IsMap()) return;
  YAML::Node p = r.Take("path"), unit = r.Take("journal_unit");
  if (p.IsDefined() && d.String(p, r.Field("path"), &l->path) && l->path.empty()) {
    d.Report(p, r.Field("path"), "must not be empty");
  }
  if (unit.IsDefined() && d.String(unit, r.Field("journal_unit"), &l->journal_unit) && l->journal_unit.empty()) {
    d.Report(unit, r.Field("journal_unit"), "must not be empty");
  }
  if (p.IsDefined() == unit.IsDefined()) d.Report(node, path, "needs exactly one of path and journal_unit");
  std::set<std::string> names;
  auto rule_list = [&](const char* key,
                       const std::function<void(MapReader&, const YAML::Node&, const std::string&)>& fn) {
    ForEachMapping(d, r, key, [&](MapReader& rr, const YAML::Node& item, const std::string& field) {
      YAML::Node name = rr.Take("name");
      std::string n;
      if (!name.IsDefined()) {
        d.Report(item, field, "missing name");
      } else if (d.String(name, rr.Field("name"), &n) && CheckMetricName(d, name, rr.Field("name"), n) &&
                 !names.insert(n).second) {
        d.Report(name, rr.Field("name"), "duplicate rule name \"" + n + "\" in this log");
      }
      fn(rr, item, n);
    });
  };
  auto regex = [&](MapReader& rr, const YAML::Node& at, const char* key, std::string* out, int groups) {
    YAML::Node n = rr.Take(key);
    if (!n.IsDefined()) {
      d.Report(at, rr.Field(key), "missing");
      return;
    }
    d.Regex(n, rr.Field(key), out);
    if (groups >= 0 && !out->empty()) {
      RE2 re(*out, RE2::Quiet);
      if (re.NumberOfCapturingGroups() != groups) {
        d.Report(n, rr.Field(key), "needs exactly one capture group around the number, e.g. 'slot (\\d+)'");
      }
    }
  };
  rule_list("counters", [&](MapReader& rr, const YAML::Node& at, const std::string& n) {
    l->counters.push_back({n, ""});
    regex(rr, at, "match", &l->counters.back().match, -1);
  });
  rule_list("gauges", [&](MapReader& rr, const YAML::Node& at, const std::string& n) {
    l->gauges.push_back({n, ""});
    regex(rr, at, "match", &l->gauges.back().match, 1);
  });
  rule_list("states", [&](MapReader& rr, const YAML::Node& at, const std::string& n) {
    l->states.push_back({n, "", ""});
    regex(rr, at, "on", &l->states.back().on, -1);
    regex(rr, at, "off", &l->states.back().off, -1);
  });
  DecodeTiming(d, r, path, g, &l->interval, &l->timeout);
  r.Finish();
}

void DecodeUpdates(Decoder& d, const YAML::Node& node, const std::string& path, const GlobalOptions& g,
                   UpdatesOptions* u) {
  MapReader r(d, node, path);
  YAML::Node binary = r.Take("binary"), vfile = r.Take("version_file"), releases = r.Take("releases");
  if (binary.IsDefined() && d.String(binary, r.Field("binary"), &u->binary) &&
      (u->binary.empty() || u->binary[0] != '/')) {
    d.Report(binary, r.Field("binary"), "must be an absolute path (it is run without a shell)");
  }
  if (vfile.IsDefined()) d.String(vfile, r.Field("version_file"), &u->version_file);
  if (node.IsMap() && !binary.IsDefined() && !vfile.IsDefined()) {
    d.Report(node, path, "needs binary or version_file");
  }
  if (releases.IsDefined()) {
    d.Url(releases, r.Field("releases"), &u->releases);
  } else if (node.IsMap()) {
    d.Report(node, path, "missing releases (a URL answering GitHub's releases/latest JSON)");
  }
  DecodeTiming(d, r, path, g, &u->interval, &u->timeout, Duration(6LL * 3600 * 1000));
  r.Finish();
}

// A path, or {path, interval, timeout}: collected every 5 minutes by default
// (a walk of a chain's data is not free and the forecast reads hours).
void DecodeDataDir(Decoder& d, const YAML::Node& node, const std::string& field, const GlobalOptions& g,
                   DataDirOptions* out) {
  auto path = [&](const YAML::Node& n, const std::string& f) {
    if (d.String(n, f, &out->path) && (out->path.empty() || out->path[0] != '/')) {
      d.Report(n, f, "must be an absolute path, got \"" + out->path + "\"");
    }
  };
  if (!node.IsMap()) {
    path(node, field);
    return;
  }
  MapReader r(d, node, field);
  // (yaml-cpp: assigning one Node to another overwrites the first's content, so each gets its own.)
  if (const YAML::Node p = r.Take("path"); p.IsDefined()) {
    path(p, r.Field("path"));
  } else {
    d.Report(node, field, "missing path");
  }
  const bool has_timeout = r.Take("timeout").IsDefined();
  DecodeTiming(d, r, field, g, &out->interval, &out->timeout, out->interval);
  if (!has_timeout) out->timeout = std::min(out->interval, Duration(60 * 1000));
  r.Finish();
}

// A share of a filesystem: "10%" or 0.1.
void Ratio(Decoder& d, const YAML::Node& node, const std::string& field, double* out) {
  std::string text;
  if (!d.String(node, field, &text)) return;
  bool percent = !text.empty() && text.back() == '%';
  std::string number = percent ? text.substr(0, text.size() - 1) : text;
  char* end = nullptr;
  double v = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  if (end == nullptr || *end != '\0' || !std::isfinite(v)) v = -1;
  if (percent) v /= 100;
  if (v <= 0 || v >= 1) {
    d.Report(node, field, "expected a share between 0 and 1 or a percentage (e.g. 10%), got \"" + text + "\"");
    return;
  }
  *out = v;
}

void DecodeRestart(Decoder& d, const YAML::Node& node, const std::string& path, RestartOptions* o) {
  MapReader r(d, node, path);
  if (auto n = r.Take("max_attempts"); n.IsDefined()) {
    std::string text;
    if (n.IsScalar() && n.Scalar() == "0") {
      d.Report(n, r.Field("max_attempts"),
               "must be at least 1 (a budget of 0 would never restart; remove `restart` to turn restarts off)");
    } else {
      d.Int(n, r.Field("max_attempts"), &o->max_attempts, 1, 100);
    }
  }
  auto duration = [&](const char* key, Duration* out) {
    if (auto n = r.Take(key); n.IsDefined()) d.Duration(n, r.Field(key), out, /*allow_zero=*/false);
  };
  duration("window", &o->window);
  duration("backoff", &o->backoff);
  duration("max_backoff", &o->max_backoff);
  duration("verify_timeout", &o->verify_timeout);
  if (auto n = r.Take("stable_for"); n.IsDefined()) d.Duration(n, r.Field("stable_for"), &o->stable_for, true);
  duration("unhealthy_for", &o->unhealthy_for);
  if (o->max_backoff < o->backoff) d.Report(node, path, "max_backoff must not be shorter than backoff");
  r.Finish();
}

void DecodeFailover(Decoder& d, MapReader& r, const YAML::Node& node, const std::string& path, FailoverOptions* o) {
  if (auto n = r.Take("env_file"); !n.IsDefined()) {
    d.Report(node, path, "missing env_file (the consumer's env file holding the endpoint)");
  } else if (d.String(n, r.Field("env_file"), &o->env_file) && (o->env_file.empty() || o->env_file[0] != '/')) {
    d.Report(n, r.Field("env_file"), "must be an absolute path");
  }
  if (auto n = r.Take("key"); !n.IsDefined()) {
    d.Report(node, path, "missing key (the KEY=value line to rewrite)");
  } else if (d.String(n, r.Field("key"), &o->key)) {
    bool valid = !o->key.empty() && !std::isdigit(static_cast<unsigned char>(o->key[0])) &&
                 std::all_of(o->key.begin(), o->key.end(),
                             [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
    if (!valid) d.Report(n, r.Field("key"), "\"" + o->key + "\" is not a valid variable name");
  }
  if (auto n = r.Take("endpoints"); !n.IsDefined()) {
    d.Report(node, path, "missing endpoints (the primary first, then standbys)");
  } else if (!n.IsSequence()) {
    d.Report(n, r.Field("endpoints"), std::string("expected a list, got ") + Decoder::KindName(n));
  } else {
    for (size_t i = 0; i < n.size(); ++i) {
      std::string url;
      d.Url(n[i], r.Field("endpoints") + "[" + std::to_string(i) + "]", &url);
      if (!url.empty()) o->endpoints.push_back(std::move(url));
    }
    if (n.size() < 2) d.Report(n, r.Field("endpoints"), "needs at least two endpoints (a primary and a standby)");
  }
  if (auto n = r.Take("probe_path"); n.IsDefined() && d.String(n, r.Field("probe_path"), &o->probe_path) &&
                                     (o->probe_path.empty() || o->probe_path[0] != '/')) {
    d.Report(n, r.Field("probe_path"), "must start with /");
  }
  if (auto n = r.Take("probe_interval"); n.IsDefined())
    d.Duration(n, r.Field("probe_interval"), &o->probe_interval, false);
  if (auto n = r.Take("probe_timeout"); n.IsDefined())
    d.Duration(n, r.Field("probe_timeout"), &o->probe_timeout, false);
  if (auto n = r.Take("fail_after"); n.IsDefined()) d.Int(n, r.Field("fail_after"), &o->fail_after, 1, 100);
  if (auto n = r.Take("hold_down"); n.IsDefined()) d.Duration(n, r.Field("hold_down"), &o->hold_down, true);
  if (auto n = r.Take("restart"); n.IsDefined()) {
    d.String(n, r.Field("restart"), &o->restart_service);
  }
}

void DecodeExecAction(Decoder& d, MapReader& r, const YAML::Node& node, const std::string& path, ExecActionOptions* o) {
  if (auto n = r.Take("name"); n.IsDefined()) d.String(n, r.Field("name"), &o->name);
  if (auto n = r.Take("matchers"); n.IsDefined()) DecodeMatcherList(d, n, r.Field("matchers"), &o->matchers);
  if (auto n = r.Take("command"); !n.IsDefined()) {
    d.Report(node, path, "missing command (an absolute program and its arguments, run without a shell)");
  } else {
    d.StringList(n, r.Field("command"), &o->command);
    if (n.IsSequence() && (o->command.empty() || o->command[0].empty() || o->command[0][0] != '/')) {
      d.Report(n.size() > 0 ? n[0] : n, r.Field("command"),
               "the program must be an absolute path (it is run without a shell)");
    }
  }
  if (auto n = r.Take("timeout"); n.IsDefined()) d.Duration(n, r.Field("timeout"), &o->timeout, false);
  if (auto n = r.Take("max_output"); n.IsDefined()) {
    std::string text;
    if (d.String(n, r.Field("max_output"), &text)) {
      Result<uint64_t> bytes = ParseByteSize(text);
      if (!bytes.ok() || *bytes == 0 || *bytes > (64u << 20)) {
        d.Report(n, r.Field("max_output"), "expected a size from 1 to 64MiB (e.g. 64KiB), got \"" + text + "\"");
      } else {
        o->max_output_bytes = static_cast<size_t>(*bytes);
      }
    }
  }
}

void DecodeServiceRecovery(Decoder& d, const YAML::Node& node, const std::string& path, ServiceRecoveryOptions* o) {
  MapReader r(d, node, path);
  if (auto n = r.Take("restart"); n.IsDefined()) DecodeRestart(d, n, r.Field("restart"), &o->restart.emplace());
  if (auto n = r.Take("hold_page_for"); n.IsDefined()) {
    d.Duration(n, r.Field("hold_page_for"), &o->hold_page_for, /*allow_zero=*/true);
    if (o->hold_page_for.count() > 0 && !o->restart) {
      d.Report(n, r.Field("hold_page_for"), "holds a page only while vigil restarts the service: needs restart");
    }
  }
  ForEachMapping(d, r, "failover", [&](MapReader& fr, const YAML::Node& item, const std::string& field) {
    o->failover.emplace_back();
    DecodeFailover(d, fr, item, field, &o->failover.back());
  });
  ForEachMapping(d, r, "exec", [&](MapReader& er, const YAML::Node& item, const std::string& field) {
    o->exec.emplace_back();
    DecodeExecAction(d, er, item, field, &o->exec.back());
  });
  r.Finish();
}

bool IsGlobPattern(const std::string& unit) { return unit.find_first_of("*?[") != std::string::npos; }

// Unit names as systemd spells them, with glob characters allowed.
bool ValidUnitPattern(const std::string& unit) {
  if (unit.empty() || unit.size() > 256) return false;
  return std::all_of(unit.begin(), unit.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr(":_.\\@-*?[]!", ch) != nullptr;
  });
}

// A non-negative number (tolerance, min_width); `positive` also excludes 0.
void Number(Decoder& d, const YAML::Node& node, const std::string& field, double* out, bool positive) {
  std::string text;
  if (!d.String(node, field, &text)) return;
  std::optional<double> v = ParseDouble(text);
  if (!v || !std::isfinite(*v) || *v < 0 || (positive && *v == 0)) {
    d.Report(node, field,
             std::string("expected a ") + (positive ? "positive" : "non-negative") + " number, got \"" + text + "\"");
    return;
  }
  *out = *v;
}

void DecodeBaselines(Decoder& d, const YAML::Node& node, std::vector<BaselineOptions>* out) {
  if (!node.IsSequence()) {
    d.Report(node, "baselines", std::string("expected a list, got ") + Decoder::KindName(node));
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string path = "baselines[" + std::to_string(i) + "]";
    MapReader r(d, node[i], path);
    if (!node[i].IsMap()) continue;
    BaselineOptions b;
    if (auto n = r.Take("name"); !n.IsDefined()) {
      d.Report(node[i], path, "missing name");
    } else if (d.String(n, r.Field("name"), &b.name)) {
      if (b.name.empty()) d.Report(n, r.Field("name"), "must not be empty");
      if (!names.insert(b.name).second) d.Report(n, r.Field("name"), "duplicate name \"" + b.name + "\"");
    }
    if (auto n = r.Take("expr"); !n.IsDefined()) {
      d.Report(node[i], path, "missing expr (e.g. vigil_probe_duration_seconds)");
    } else if (d.String(n, r.Field("expr"), &b.expr)) {
      if (auto e = promql::ParseExpr(b.expr); !e.ok()) {
        d.Report(n, r.Field("expr"), "invalid PromQL: " + e.status().message());
      } else if ((*e)->Type() != promql::ValueType::kVector) {
        d.Report(n, r.Field("expr"), "must return an instant vector (one value per series)");
      }
    }
    if (auto n = r.Take("season"); n.IsDefined() && d.String(n, r.Field("season"), &b.season)) {
      if (b.season != "daily" && b.season != "weekly") {
        d.Report(n, r.Field("season"), "expected daily or weekly, got \"" + b.season + "\"");
      }
    }
    if (auto n = r.Take("direction"); n.IsDefined() && d.String(n, r.Field("direction"), &b.direction)) {
      if (b.direction != "up" && b.direction != "down" && b.direction != "both") {
        d.Report(n, r.Field("direction"), "expected up, down or both, got \"" + b.direction + "\"");
      }
    }
    if (auto n = r.Take("bucket"); n.IsDefined()) {
      vigil::Duration bucket{0};
      d.Duration(n, r.Field("bucket"), &bucket, /*allow_zero=*/false);
      if (bucket.count() > 0 && (bucket.count() < 60000 || 86400000 % bucket.count() != 0)) {
        d.Report(n, r.Field("bucket"), "must be at least 1m and divide a day evenly (e.g. 15m, 1h, 3h)");
      } else if (bucket.count() > 0) {
        b.bucket = bucket;
      }
    }
    if (auto n = r.Take("history"); n.IsDefined()) {
      vigil::Duration history{0};
      d.Duration(n, r.Field("history"), &history, /*allow_zero=*/false);
      if (history.count() > 0 && history.count() < 3LL * 86400 * 1000) {
        d.Report(n, r.Field("history"), "must be at least 3d: a bucket is learned from three days");
      } else if (history.count() > 0) {
        b.history = history;
      }
    }
    if (auto n = r.Take("tolerance"); n.IsDefined()) Number(d, n, r.Field("tolerance"), &b.tolerance, true);
    if (auto n = r.Take("min_width"); n.IsDefined()) Number(d, n, r.Field("min_width"), &b.min_width, false);
    r.Finish();
    out->push_back(std::move(b));
  }
}

void DecodeSlo(Decoder& d, const YAML::Node& node, const std::string& path, SloOptions* o) {
  MapReader r(d, node, path);
  if (auto n = r.Take("objective"); !n.IsDefined()) {
    if (node.IsMap()) d.Report(node, path, "missing objective (e.g. 99.9%)");
  } else {
    Ratio(d, n, r.Field("objective"), &o->objective);
  }
  if (auto n = r.Take("window"); n.IsDefined()) d.Duration(n, r.Field("window"), &o->window, /*allow_zero=*/false);
  r.Finish();
}

// One entry of a service's maintenance_windows: {start, end} once, or weekly.
void DecodeServiceMaintenanceWindow(Decoder& d, const YAML::Node& node, const std::string& path,
                                    ServiceMaintenanceWindow* w) {
  MapReader r(d, node, path);
  if (!node.IsMap()) return;
  YAML::Node start = r.Take("start"), end = r.Take("end");
  if (!start.IsDefined() && !end.IsDefined()) {
    alert::MaintenanceWindowSpec weekly;
    DecodeWeeklyWindow(d, r, node, path, &weekly);
    w->name = weekly.name;
    w->weekly = std::move(weekly);
    return;
  }
  if (auto n = r.Take("name"); n.IsDefined()) d.String(n, r.Field("name"), &w->name);
  for (const char* weekly_key : {"weekdays", "times", "location"}) {
    if (auto n = r.Take(weekly_key); n.IsDefined()) {
      d.Report(n, r.Field(weekly_key), "a window is either one-off (start, end) or weekly (weekdays, times), not both");
    }
  }
  auto time = [&](const YAML::Node& n, const char* key, TimestampMs* out) {
    if (!n.IsDefined()) {
      d.Report(node, path, std::string("missing ") + key + " (a time such as 2026-12-06T18:00:00Z)");
      return false;
    }
    std::string text;
    if (!d.String(n, r.Field(key), &text)) return false;
    Result<TimestampMs> t = ParseTime(text);
    if (!t.ok()) {
      d.Report(n, r.Field(key), t.status().message());
      return false;
    }
    *out = *t;
    return true;
  };
  bool ok = time(start, "start", &w->start_ms);
  ok = time(end, "end", &w->end_ms) && ok;
  if (ok && w->end_ms <= w->start_ms) d.Report(end, r.Field("end"), "must be after start");
  r.Finish();
}

void DecodeService(Decoder& d, const YAML::Node& node, const std::string& name, const GlobalOptions& g,
                   ServiceOptions* s) {
  std::string path = "services." + name;
  s->name = name;
  MapReader r(d, node, path);
  if (auto n = r.Take("unit"); n.IsDefined() && d.String(n, r.Field("unit"), &s->unit)) {
    if (!ValidUnitPattern(s->unit)) {
      d.Report(n, r.Field("unit"), "\"" + s->unit + "\" is not a unit name or glob (e.g. arch-validator@ops.service)");
      s->unit.clear();
    } else if (s->unit.find('.') == std::string::npos) {
      s->unit += ".service";  // as systemctl does for a bare name
    }
  }
  if (auto n = r.Take("depends_on"); n.IsDefined()) d.StringList(n, r.Field("depends_on"), &s->depends_on);
  if (auto n = r.Take("processes"); n.IsDefined()) {
    MapReader pr(d, n, r.Field("processes"));
    ProcessesOptions p;
    if (auto e = pr.Take("expect"); e.IsDefined()) {
      int v = -1;
      d.Int(e, pr.Field("expect"), &v, 0, 100000);
      if (v >= 0) p.expect = v;
    }
    if (auto m = pr.Take("match"); m.IsDefined()) {
      d.Regex(m, pr.Field("match"), &p.match);
      if (p.match.empty() && m.IsScalar()) d.Report(m, pr.Field("match"), "must not be empty");
    }
    pr.Finish();
    if (n.IsMap() && p.match.empty() && s->unit.empty()) {
      d.Report(n, r.Field("processes"), "needs match when the service has no unit");
    }
    s->processes = std::move(p);
  }
  std::set<std::string> probe_names;
  ForEachItem(d, r, "probes", [&](const YAML::Node& n, const std::string& field) {
    ProbeOptions& p = s->probes.emplace_back();
    DecodeProbe(d, n, field, g, &p);
    if (!p.name.empty() && !probe_names.insert(p.name).second) {
      d.Report(n, field, "duplicate probe name \"" + p.name + "\"");
    }
  });
  if (auto n = r.Take("bitcoind"); n.IsDefined()) DecodeBitcoind(d, n, r.Field("bitcoind"), g, &s->bitcoind.emplace());
  if (auto n = r.Take("titan"); n.IsDefined()) DecodeTitan(d, n, r.Field("titan"), g, &s->titan.emplace());
  if (auto n = r.Take("validator"); n.IsDefined())
    DecodeValidator(d, n, r.Field("validator"), g, &s->validator.emplace());
  std::set<std::string> log_sources;
  ForEachItem(d, r, "logs", [&](const YAML::Node& n, const std::string& field) {
    LogOptions& l = s->logs.emplace_back();
    DecodeLog(d, n, field, g, &l);
    std::string source = l.path.empty() ? "journal_unit " + l.journal_unit : "path " + l.path;
    if ((!l.path.empty() || !l.journal_unit.empty()) && !log_sources.insert(source).second) {
      d.Report(n, field, "duplicate log (" + source + ")");
    }
  });
  if (auto n = r.Take("updates"); n.IsDefined()) DecodeUpdates(d, n, r.Field("updates"), g, &s->updates.emplace());
  std::set<std::string> data_dir_paths;
  ForEachItem(d, r, "data_dirs", [&](const YAML::Node& n, const std::string& field) {
    DataDirOptions& dir = s->data_dirs.emplace_back();
    DecodeDataDir(d, n, field, g, &dir);
    if (!dir.path.empty() && !data_dir_paths.insert(dir.path).second) {
      d.Report(n, field, "duplicate data_dir \"" + dir.path + "\"");
    }
  });
  if (auto n = r.Take("slo"); n.IsDefined()) {
    DecodeSlo(d, n, r.Field("slo"), &s->slo.emplace());
    if (s->unit.empty()) d.Report(n, r.Field("slo"), "needs the service's unit (availability is its unit's state)");
  }
  ForEachItem(d, r, "maintenance_windows", [&](const YAML::Node& n, const std::string& field) {
    DecodeServiceMaintenanceWindow(d, n, field, &s->maintenance_windows.emplace_back());
  });
  if (auto n = r.Take("recovery"); n.IsDefined()) {
    DecodeServiceRecovery(d, n, r.Field("recovery"), &s->recovery.emplace());
    if (s->recovery->restart && s->unit.empty()) {
      d.Report(n, r.Field("recovery.restart"), "needs the service's unit (restarts go through systemd)");
    } else if (s->recovery->restart && IsGlobPattern(s->unit)) {
      d.Report(n, r.Field("recovery.restart"),
               "needs one unit, not the glob \"" + s->unit + "\" (vigil restarts only units the config names)");
    }
    // Verification waits for the service's checks; it must give them time to run once.
    if (s->recovery->restart) {
      Duration slowest{0};
      std::string slowest_name;
      auto consider = [&](Duration interval, const std::string& what) {
        if (interval > slowest) slowest = interval, slowest_name = what;
      };
      for (const auto& p : s->probes) consider(p.interval, "probe " + p.name);
      if (s->bitcoind) consider(s->bitcoind->interval, "bitcoind");
      if (s->titan) consider(s->titan->interval, "titan");
      if (s->validator) consider(s->validator->interval, "validator");
      if (s->recovery->restart->verify_timeout < slowest) {
        YAML::Node at = n["restart"]["verify_timeout"].IsDefined() ? n["restart"]["verify_timeout"] : n;
        d.Report(at, r.Field("recovery.restart.verify_timeout"),
                 FormatDuration(s->recovery->restart->verify_timeout) + " is shorter than the " + slowest_name +
                     " check's interval (" + FormatDuration(slowest) +
                     "): a restart could never be verified; raise verify_timeout or shorten the interval");
      }
    }
  }
  r.Finish();
}

// True iff `inner` is `outer` or lies beneath it (both absolute, normalised).
bool IsWithin(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end() || (std::next(o) == outer.end() && o->empty());
}

void DecodeCleanup(Decoder& d, MapReader& r, const YAML::Node& node, const std::string& path,
                   const std::string& data_dir, CleanupOptions* o) {
  if (auto n = r.Take("filesystem"); !n.IsDefined()) {
    d.Report(node, path, "missing filesystem (the mount point whose free space is watched)");
  } else if (d.String(n, r.Field("filesystem"), &o->filesystem) && (o->filesystem.empty() || o->filesystem[0] != '/')) {
    d.Report(n, r.Field("filesystem"), "must be an absolute path");
  }
  if (auto n = r.Take("below"); n.IsDefined()) Ratio(d, n, r.Field("below"), &o->below_free_ratio);
  if (auto n = r.Take("until"); n.IsDefined()) Ratio(d, n, r.Field("until"), &o->until_free_ratio);
  if (o->until_free_ratio <= o->below_free_ratio) {
    d.Report(node, path, "until must be more free space than below");
  }
  std::filesystem::path data = std::filesystem::absolute(data_dir).lexically_normal();
  if (auto n = r.Take("roots"); !n.IsDefined()) {
    d.Report(node, path, "missing roots (the directories files may be removed from)");
  } else if (!n.IsSequence() || n.size() == 0) {
    d.Report(n, r.Field("roots"), "expected a non-empty list of directories");
  } else {
    for (size_t i = 0; i < n.size(); ++i) {
      std::string field = r.Field("roots") + "[" + std::to_string(i) + "]", root;
      if (!d.String(n[i], field, &root)) continue;
      std::filesystem::path p = std::filesystem::path(root).lexically_normal();
      if (root.empty() || root[0] != '/') {
        d.Report(n[i], field, "must be an absolute path, got \"" + root + "\"");
      } else if (p == "/" || p.parent_path() == p) {
        d.Report(n[i], field, "/ cannot be a cleanup root: name the directories whose files may go");
      } else if (IsWithin(p, data) || IsWithin(data, p)) {
        d.Report(n[i], field,
                 "overlaps vigil's own data directory " + data.string() + ": vigil never deletes its own data");
      } else {
        o->roots.push_back(p.string());
      }
    }
  }
  if (auto n = r.Take("match"); n.IsDefined()) {
    if (n.IsScalar()) {
      std::string glob;
      if (d.String(n, r.Field("match"), &glob)) o->match.push_back(glob);
    } else {
      d.StringList(n, r.Field("match"), &o->match);
    }
    for (const auto& g : o->match) {
      if (g.empty() || g.find('/') != std::string::npos) {
        d.Report(n, r.Field("match"), "\"" + g + "\" must be a non-empty glob on file names (no /)");
      }
    }
  }
  if (auto n = r.Take("older_than"); n.IsDefined()) d.Duration(n, r.Field("older_than"), &o->older_than, true);
  if (auto n = r.Take("keep_newest"); n.IsDefined()) d.Int(n, r.Field("keep_newest"), &o->keep_newest, 0, 100000);
  if (auto n = r.Take("order"); n.IsDefined()) {
    std::string order;
    if (d.String(n, r.Field("order"), &order)) {
      if (order == "largest_first") {
        o->largest_first = true;
      } else if (order != "oldest_first") {
        d.Report(n, r.Field("order"), "expected oldest_first or largest_first, got \"" + order + "\"");
      }
    }
  }
  if (auto n = r.Take("compress"); n.IsDefined()) d.Bool(n, r.Field("compress"), &o->compress);
  if (auto n = r.Take("delete_open_files"); n.IsDefined())
    d.Bool(n, r.Field("delete_open_files"), &o->delete_open_files);
  if (auto n = r.Take("journal_vacuum"); n.IsDefined()) d.Bool(n, r.Field("journal_vacuum"), &o->journal_vacuum);
  if (auto n = r.Take("journal_max_size"); n.IsDefined()) {
    std::string text;
    if (d.String(n, r.Field("journal_max_size"), &text)) {
      Result<uint64_t> size = ParseByteSize(text);
      if (!size.ok()) {
        d.Report(n, r.Field("journal_max_size"), size.status().message());
      } else {
        o->journal_max_bytes = *size;
      }
    }
  }
  if (o->journal_vacuum && o->journal_max_bytes == 0 && o->older_than.count() == 0) {
    d.Report(node, path, "journal_vacuum needs journal_max_size or older_than");
  }
  if (auto n = r.Take("interval"); n.IsDefined()) d.Duration(n, r.Field("interval"), &o->interval, false);
}

void DecodeRecovery(Decoder& d, const YAML::Node& node, const std::string& data_dir, RecoveryOptions* o) {
  MapReader r(d, node, "recovery");
  if (auto n = r.Take("mode"); n.IsDefined()) {
    std::string mode;
    if (d.String(n, r.Field("mode"), &mode)) {
      if (mode == "enforce") {
        o->mode = RecoveryMode::kEnforce;
      } else if (mode == "dry-run" || mode == "dry_run") {
        o->mode = RecoveryMode::kDryRun;
      } else if (mode == "off") {
        o->mode = RecoveryMode::kOff;
      } else {
        d.Report(n, r.Field("mode"), "expected enforce, dry-run or off, got \"" + mode + "\"");
      }
    }
  }
  if (auto n = r.Take("max_concurrent"); n.IsDefined()) d.Int(n, r.Field("max_concurrent"), &o->max_concurrent, 1, 64);
  ForEachMapping(d, r, "cleanup", [&](MapReader& cr, const YAML::Node& item, const std::string& field) {
    o->cleanup.emplace_back();
    DecodeCleanup(d, cr, item, field, data_dir, &o->cleanup.back());
  });
  r.Finish();
}

// Services named by recovery settings must exist; `self` means the service itself.
void CheckRecoveryTargets(Decoder& d, const YAML::Node& services_node, std::vector<ServiceOptions>* services) {
  std::set<std::string> names;
  for (const auto& s : *services) names.insert(s.name);
  for (auto& s : *services) {
    if (!s.recovery) continue;
    for (size_t i = 0; i < s.recovery->failover.size(); ++i) {
      std::string& target = s.recovery->failover[i].restart_service;
      std::string field = "services." + s.name + ".recovery.failover[" + std::to_string(i) + "].restart";
      YAML::Node at = services_node[s.name]["recovery"]["failover"][i]["restart"];
      if (!at.IsDefined()) {
        target = s.name;  // the consumer reads the env file at start: restart it by default
        continue;
      }
      if (target == "self") target = s.name;
      if (target == "none") target.clear();
      if (!target.empty() && !names.count(target)) {
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        d.Report(at, field, "unknown service \"" + target + "\" (services: " + known + "; or self, none)");
      } else if (!target.empty()) {
        for (const auto& other : *services) {
          if (other.name == target && other.unit.empty()) {
            d.Report(at, field, "service \"" + target + "\" has no unit to restart");
          }
        }
      }
    }
  }
}

// Checks depends_on: every name is a service, none names itself, no cycles.
void CheckDependencies(Decoder& d, const YAML::Node& services_node, const std::vector<ServiceOptions>& services) {
  std::map<std::string, const ServiceOptions*> by_name;
  for (const auto& s : services) by_name[s.name] = &s;
  auto position_of = [&](const std::string& service, size_t index) -> YAML::Node {
    YAML::Node list = services_node[service]["depends_on"];
    if (list.IsSequence() && index < list.size()) return list[index];
    return services_node[service];
  };
  bool missing = false;
  for (const auto& s : services) {
    for (size_t i = 0; i < s.depends_on.size(); ++i) {
      const std::string& dep = s.depends_on[i];
      std::string field = "services." + s.name + ".depends_on[" + std::to_string(i) + "]";
      if (dep == s.name) {
        d.Report(position_of(s.name, i), field, "a service cannot depend on itself");
        missing = true;
      } else if (!by_name.count(dep)) {
        std::string known;
        for (const auto& [n, _] : by_name) known += (known.empty() ? "" : ", ") + n;
        d.Report(position_of(s.name, i), field, "unknown service \"" + dep + "\" (services: " + known + ")");
        missing = true;
      }
    }
  }
  if (missing) return;
  // Depth-first search; a back edge closes a cycle, reported once with its path.
  std::map<std::string, int> state;  // 0 new, 1 on the stack, 2 done
  std::vector<std::string> stack;
  std::function<bool(const std::string&)> visit = [&](const std::string& name) -> bool {
    state[name] = 1;
    stack.push_back(name);
    const ServiceOptions* s = by_name[name];
    for (size_t i = 0; i < s->depends_on.size(); ++i) {
      const std::string& dep = s->depends_on[i];
      if (state[dep] == 1) {
        std::string cycle;
        auto start = std::find(stack.begin(), stack.end(), dep);
        for (auto it = start; it != stack.end(); ++it) cycle += *it + " -> ";
        cycle += dep;
        d.Report(position_of(name, i), "services." + name + ".depends_on[" + std::to_string(i) + "]",
                 "dependency cycle: " + cycle);
        return true;
      }
      if (state[dep] == 0 && visit(dep)) return true;
    }
    stack.pop_back();
    state[name] = 2;
    return false;
  };
  for (const auto& s : services) {
    if (state[s.name] == 0 && visit(s.name)) return;
  }
}

void DecodeServices(Decoder& d, const YAML::Node& node, const GlobalOptions& g, std::vector<ServiceOptions>* out) {
  if (!node.IsMap()) {
    if (!node.IsNull()) d.Report(node, "services", std::string("expected a mapping, got ") + Decoder::KindName(node));
    return;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
    bool valid = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
                 std::all_of(name.begin(), name.end(), [](char ch) {
                   return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
                 });
    if (!valid) {
      d.Report(
          it->first, "services",
          "\"" + name + "\" is not a valid service name (letters, digits, _ - and ., starting with a letter or digit)");
      continue;
    }
    if (!seen.insert(name).second) {
      d.Report(it->first, "services", "duplicate service \"" + name + "\"");
      continue;
    }
    ServiceOptions s;
    DecodeService(d, it->second, name, g, &s);
    out->push_back(std::move(s));
  }
  CheckDependencies(d, node, *out);
  CheckRecoveryTargets(d, node, out);
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

// The YAML document in `yaml`, or nothing after reporting where it is invalid.
std::optional<YAML::Node> ParseYaml(std::string_view yaml, const std::string& name, std::vector<Problem>* problems) {
  try {
    return YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    problems->push_back({name, e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg});
    return std::nullopt;
  }
}

LoadResult Decode(std::string_view yaml, const std::string& name, const std::string& base_dir, const EnvLookup& env) {
  LoadResult result;
  result.config.source = name;
  std::optional<YAML::Node> parsed = ParseYaml(yaml, name, &result.problems);
  if (!parsed) return result;
  YAML::Node root = *parsed;
  Decoder d{name, env, &result.problems, std::nullopt, yaml};
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
  if (auto n = top.Take("systemd"); n.IsDefined()) DecodeSystemd(d, n, &c.systemd.emplace());
  if (auto n = top.Take("services"); n.IsDefined()) DecodeServices(d, n, c.global, &c.services);
  if (auto n = top.Take("textfile"); n.IsDefined()) DecodeTextfile(d, n, &c.textfile);
  if (auto n = top.Take("scrape"); n.IsDefined()) DecodeScrape(d, n, c.global, &c.scrape);
  if (auto n = top.Take("rule_files"); n.IsDefined()) DecodeRuleFiles(d, n, base_dir, &c);
  if (auto n = top.Take("alerting"); n.IsDefined()) DecodeAlerting(d, n, base_dir, &c.alerting.emplace());
  if (auto n = top.Take("recovery"); n.IsDefined()) DecodeRecovery(d, n, c.global.data_dir, &c.recovery);
  if (auto n = top.Take("remote_write"); n.IsDefined()) DecodeRemoteWrite(d, n, &c.remote_write);
  if (auto n = top.Take("baselines"); n.IsDefined()) DecodeBaselines(d, n, &c.baselines);
  if (auto n = top.Take("reports"); n.IsDefined()) DecodeReports(d, n, &c.reports);
  top.Finish(
      "(this version of vigil configures env_files, global, host, storage, systemd, services, textfile, scrape, "
      "rule_files, alerting, recovery, remote_write, baselines and reports; see "
      "docs/configuration.md)");
  return result;
}

// A bcrypt hash as `vigil hash-password` and htpasswd -B print it:
// $2a$/$2b$/$2y$, a two-digit cost, 53 characters of salt and digest.
bool IsBcryptHash(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (!std::isdigit(static_cast<unsigned char>(h[4])) || !std::isdigit(static_cast<unsigned char>(h[5]))) return false;
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(h.begin() + 7, h.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/'; });
}

// Security headers the exporter-toolkit lets http_server_config.headers set;
// others (framing, cookies) could break or spoof responses.
constexpr std::array<std::string_view, 5> kSettableHeaders = {"Strict-Transport-Security", "X-Content-Type-Options",
                                                              "X-Frame-Options", "X-XSS-Protection",
                                                              "Content-Security-Policy"};

std::string ResolveAgainst(const std::string& base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).string();
}

void DecodeWebTls(Decoder& d, const YAML::Node& node, const std::string& base_dir, WebTlsOptions* t) {
  MapReader r(d, node, "tls_server_config");
  auto file = [&](const char* key, std::string* out) {
    YAML::Node n = r.Take(key);
    if (!n.IsDefined()) return;
    if (!d.String(n, r.Field(key), out)) return;
    *out = ResolveAgainst(base_dir, *out);
    std::error_code ec;
    if (!out->empty() && !std::filesystem::is_regular_file(*out, ec)) {
      d.Report(n, r.Field(key), "\"" + *out + "\" is not a readable file");
    }
  };
  file("cert_file", &t->cert_file);
  file("key_file", &t->key_file);
  file("client_ca_file", &t->client_ca_file);
  if (auto n = r.Take("client_auth_type");
      n.IsDefined() && d.String(n, r.Field("client_auth_type"), &t->client_auth_type)) {
    static const std::set<std::string> kTypes = {"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                                 "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
    if (!kTypes.count(t->client_auth_type)) {
      d.Report(n, r.Field("client_auth_type"),
               "expected NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or "
               "RequireAndVerifyClientCert, got \"" +
                   t->client_auth_type + "\"");
    } else if ((t->client_auth_type == "VerifyClientCertIfGiven" ||
                t->client_auth_type == "RequireAndVerifyClientCert") &&
               t->client_ca_file.empty()) {
      d.Report(n, r.Field("client_auth_type"), t->client_auth_type + " needs client_ca_file");
    }
  }
  auto version = [&](const char* key, std::string* out) {
    YAML::Node n = r.Take(key);
    if (!n.IsDefined() || !d.String(n, r.Field(key), out)) return;
    if (*out != "TLS10" && *out != "TLS11" && *out != "TLS12" && *out != "TLS13") {
      d.Report(n, r.Field(key), "expected TLS10, TLS11, TLS12 or TLS13, got \"" + *out + "\"");
    }
  };
  version("min_version", &t->min_version);
  version("max_version", &t->max_version);
  if (t->min_version > t->max_version) d.Report(node, "tls_server_config", "min_version is above max_version");
  for (const char* key : {"cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"}) {
    if (auto n = r.Take(key); n.IsDefined()) {
      d.Report(n, r.Field(key), "not supported by vigil: OpenSSL's defaults for the TLS version apply");
    }
  }
  if (t->cert_file.empty() != t->key_file.empty()) {
    d.Report(node, "tls_server_config", "cert_file and key_file must be given together");
  } else if (t->cert_file.empty()) {
    d.Report(node, "tls_server_config", "cert_file and key_file are required to serve TLS");
  }
  r.Finish();
}

WebConfigResult DecodeWebConfig(std::string_view yaml, const std::string& name, const std::string& base_dir) {
  WebConfigResult result;
  result.config.source = name;
  std::optional<YAML::Node> parsed = ParseYaml(yaml, name, &result.problems);
  if (!parsed) return result;
  YAML::Node root = *parsed;
  Decoder d{name, ProcessEnv(), &result.problems, std::nullopt, yaml};
  if (root.IsNull()) return result;
  MapReader top(d, root, "");
  WebConfig& c = result.config;
  if (auto n = top.Take("tls_server_config"); n.IsDefined()) DecodeWebTls(d, n, base_dir, &c.tls.emplace());
  if (auto n = top.Take("http_server_config"); n.IsDefined()) {
    MapReader h(d, n, "http_server_config");
    if (auto v = h.Take("http2"); v.IsDefined()) {
      bool ignored = true;
      d.Bool(v, h.Field("http2"), &ignored);  // vigil serves HTTP/1.1; nothing to turn off
    }
    if (auto v = h.Take("headers"); v.IsDefined()) {
      if (!v.IsMap()) {
        d.Report(v, h.Field("headers"), std::string("expected a mapping, got ") + Decoder::KindName(v));
      } else {
        for (auto it = v.begin(); it != v.end(); ++it) {
          std::string key = it->first.IsScalar() ? it->first.Scalar() : "", value;
          auto known = std::find_if(kSettableHeaders.begin(), kSettableHeaders.end(),
                                    [&](std::string_view k) { return EqualsIgnoreCase(k, key); });
          if (known == kSettableHeaders.end()) {
            d.Report(it->first, h.Field("headers"),
                     "\"" + key +
                         "\" cannot be set (allowed: Strict-Transport-Security, X-Content-Type-Options, "
                         "X-Frame-Options, X-XSS-Protection, Content-Security-Policy)");
            continue;
          }
          if (!d.String(it->second, h.Field("headers") + "." + key, &value)) continue;
          if (value.find_first_of("\r\n") != std::string::npos) {
            d.Report(it->second, h.Field("headers") + "." + key, "must be one line");
            continue;
          }
          c.headers.emplace_back(std::string(*known), std::move(value));
        }
      }
    }
    h.Finish();
  }
  if (auto n = top.Take("basic_auth_users"); n.IsDefined()) {
    if (!n.IsMap()) {
      d.Report(n, "basic_auth_users",
               std::string("expected a mapping of user: bcrypt hash, got ") + Decoder::KindName(n));
    } else {
      for (auto it = n.begin(); it != n.end(); ++it) {
        std::string user = it->first.IsScalar() ? it->first.Scalar() : "", hash;
        if (user.empty() || user.find(':') != std::string::npos) {
          d.Report(it->first, "basic_auth_users", "a user name must be non-empty and without ':'");
          continue;
        }
        if (!it->second.IsScalar()) {
          d.Report(it->second, "basic_auth_users." + user, "expected a bcrypt hash");
          continue;
        }
        hash = it->second.Scalar();  // never echoed: a hash is still a secret's stand-in
        if (!IsBcryptHash(hash)) {
          d.Report(it->second, "basic_auth_users." + user,
                   "not a bcrypt hash ($2y$10$ and 53 characters); make one with `vigil hash-password`");
          continue;
        }
        c.basic_auth_users.emplace_back(user, hash);
      }
      std::sort(c.basic_auth_users.begin(), c.basic_auth_users.end());
    }
  }
  if (auto n = top.Take("read_access"); n.IsDefined()) {
    std::string access;
    if (d.String(n, "read_access", &access)) {
      if (access == "open") {
        c.protect_reads = false;
      } else if (access == "authenticated") {
        c.protect_reads = true;
      } else {
        d.Report(n, "read_access", "expected open or authenticated, got \"" + access + "\"");
      }
    }
  }
  top.Finish(
      "(a web configuration file has tls_server_config, http_server_config, basic_auth_users and vigil's "
      "read_access; see docs/security.md)");
  return result;
}

}  // namespace

WebConfigResult LoadWebConfigString(std::string_view yaml, const std::string& name) {
  return DecodeWebConfig(yaml, name, "");
}

WebConfigResult LoadWebConfigFile(const std::string& path) {
  Result<std::string> content = ReadFile(path, kMaxConfigBytes);
  if (!content.ok()) {
    WebConfigResult r;
    r.problems.push_back({path, 0, 0, "cannot read web config: " + ReasonOf(content.status())});
    return r;
  }
  return DecodeWebConfig(*content, path, std::filesystem::path(path).parent_path().string());
}

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
