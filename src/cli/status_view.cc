#include "cli/status_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vigil::cli {
namespace {

using status::Overall;
using status::ServiceState;
using status::Snapshot;

constexpr const char* kReset = "\x1b[0m";

std::string Paint(const ViewOptions& o, std::string_view sgr, std::string_view text) {
  if (!o.color || sgr.empty()) return std::string(text);
  return "\x1b[" + std::string(sgr) + "m" + std::string(text) + kReset;
}

// Names, summaries and labels come from configuration and rule files: their
// control characters (C0, DEL, C1 as UTF-8) must not reach the terminal, where
// an ESC or CSI would be obeyed.
std::string Clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += '?';
      ++i;
    } else {
      out += c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c);
    }
  }
  return out;
}

std::string Pad(std::string_view s, size_t width) {
  std::string out = Clean(s.substr(0, width));
  out.resize(width, ' ');
  return out;
}

// A long mountpoint keeps its end, which names it best: ".../bitcoind/blocks".
std::string PadPath(std::string_view s, size_t width) {
  if (s.size() > width && width > 3) return "..." + std::string(s.substr(s.size() - (width - 3)));
  return Pad(s, width);
}

std::string TrimRight(std::string s) {
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

std::string Printf(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Text and colour for a state; the text alone says it all.
struct StateLook {
  std::string_view text, sgr;
};
StateLook LookOf(ServiceState s) {
  switch (s) {
    case ServiceState::kUp: return {"+ up", "32"};
    case ServiceState::kDegraded: return {"~ DEGRADED", "33"};
    case ServiceState::kDown: return {"x DOWN", "1;31"};
    case ServiceState::kRecovering: return {"> RECOVERING", "36"};
    case ServiceState::kUnknown: return {"? unknown", "2"};
  }
  return {"?", ""};
}

std::string_view PrioritySgr(std::string_view p) {
  if (p == "P0") return "1;31";
  if (p == "P1") return "31";
  if (p == "P2") return "33";
  return "";
}

std::string_view OverallSgr(Overall o) {
  return o == Overall::kCritical ? "1;31" : o == Overall::kWarning ? "33" : "32";
}

double Now(const Snapshot& s, const ViewOptions& o) { return o.now > 0 ? o.now : s.time; }

// "P0 1  P1 0  P2 3  P3 0"
std::string Counts(const status::PriorityCounts& c, const ViewOptions& o) {
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    std::string p = "P" + std::to_string(i);
    std::string text = p + " " + std::to_string(c[i]);
    out += (i ? "  " : "") + (c[i] > 0 ? Paint(o, PrioritySgr(p), text) : text);
  }
  return out;
}

// The most urgent firing priority of a service: "P1 x2", or "-".
std::string WorstAlert(const status::PriorityCounts& c) {
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] > 0) return "P" + std::to_string(i) + (c[i] > 1 ? " x" + std::to_string(c[i]) : "");
  }
  return "-";
}

std::string HealthLine(const status::Service& sv) {
  std::string out;
  for (const auto& h : sv.health) out += (out.empty() ? "" : "  ") + Clean(h.name) + " " + Clean(h.text);
  return out;
}

std::string FillRate(const status::Filesystem& f) {
  if (!f.fill_bytes_per_second) return "rate -";
  double per_hour = *f.fill_bytes_per_second * 3600;
  if (std::fabs(per_hour) < 1024) return "steady";
  return (per_hour > 0 ? "+" : "-") + FormatBytes(std::fabs(per_hour)) + "/h";
}

void AddServices(const Snapshot& s, const ViewOptions& o, std::vector<std::string>& out) {
  out.push_back(Paint(o, "1", FitWidth("  STATE         SERVICE         SINCE   UP 24H  UP 30D  ALERTS", o.width)));
  if (s.services.empty()) out.push_back("  (no services configured)");
  double now = Now(s, o);
  for (const auto& sv : s.services) {
    StateLook look = LookOf(sv.state);
    std::string alerts = WorstAlert(sv.alerts);
    std::string line = "  " + Paint(o, look.sgr, Pad(look.text, 13)) + " " + Pad(sv.name, 15) + " " +
                       Pad(sv.since ? FormatAge(now - *sv.since) : "-", 7) + " " + Pad(FormatRatio(sv.uptime_24h), 7) +
                       " " + Pad(FormatRatio(sv.uptime_30d), 7) + " " +
                       Paint(o, alerts == "-" ? "" : PrioritySgr(alerts.substr(0, 2)), alerts);
    out.push_back(FitWidth(line, o.width));
    if (std::string health = HealthLine(sv); !health.empty()) {
      out.push_back(FitWidth("                " + health, o.width));
    }
  }
}

std::string AlertLine(const status::FiringAlert& a, const ViewOptions& o, double now) {
  std::string prio = "[" + (a.priority.empty() ? std::string("--") : a.priority) + "]";
  return TrimRight(Paint(o, PrioritySgr(a.priority), prio) + " " + Pad(a.name, 24) + " " +
                   Pad(a.service.value_or("-"), 12) + " " + Pad(FormatAge(now - a.since), 6) + " " +
                   (a.silenced ? "(silenced) " : "") + Clean(a.summary));
}

void AddHost(const Snapshot& s, const ViewOptions& o, std::vector<std::string>& out) {
  const status::Host& h = s.host;
  std::string cpu = "  cpu     " + (h.cpu_busy_ratio ? FormatRatio(h.cpu_busy_ratio) + " busy" : std::string("-"));
  if (h.load1) cpu += "  load " + Printf("%.2f", *h.load1);
  if (h.cpus) cpu += "  " + std::to_string(*h.cpus) + " cpus";
  out.push_back(FitWidth(cpu, o.width));
  std::string mem = "  memory  ";
  if (h.memory_total_bytes && h.memory_available_bytes && *h.memory_total_bytes > 0) {
    double used = 1 - *h.memory_available_bytes / *h.memory_total_bytes;
    mem += FormatRatio(used) + " used  " + FormatBytes(*h.memory_available_bytes) + " available of " +
           FormatBytes(*h.memory_total_bytes);
  } else {
    mem += "-";
  }
  out.push_back(FitWidth(mem, o.width));
  for (const auto& f : h.filesystems) {
    std::string full = f.full_in_seconds ? "full in " + FormatAge(*f.full_in_seconds) : "";
    std::string used = FormatRatio(f.used_ratio) + " used";
    std::string_view sgr = f.used_ratio >= 0.9 ? "1;31" : f.used_ratio >= 0.8 ? "33" : "";
    // 2+15+1+10+1+23+1+11+1 columns leave 15 for "full in 999d23h" in 80.
    std::string line = "  " + PadPath(f.mountpoint, 15) + " " + Paint(o, sgr, Pad(used, 10)) + " " +
                       Pad(FormatBytes(f.avail_bytes) + " free of " + FormatBytes(f.size_bytes), 23) + " " +
                       Pad(FillRate(f), 11) + " " + full;
    out.push_back(FitWidth(TrimRight(line), o.width));
  }
  if (h.filesystems.empty()) out.push_back("  (no filesystems)");
}

}  // namespace

int ExitCodeFor(Overall overall) { return overall == Overall::kCritical ? 2 : overall == Overall::kWarning ? 1 : 0; }

std::string FormatAge(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  auto s = static_cast<long long>(seconds);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm", s / 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%lldh", s / 86400, s % 86400 / 3600);
  }
  return buf;
}

std::string FormatBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (!std::isfinite(bytes)) return "-";
  size_t u = 0;
  while (std::fabs(bytes) >= 1024 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? Printf("%.0f", bytes) + " B"
                : Printf(std::fabs(bytes) < 10 ? "%.1f" : "%.0f", bytes) + " " + kUnits[u];
}

std::string FormatRatio(const status::OptDouble& ratio) {
  if (!ratio || !std::isfinite(*ratio)) return "-";
  double pct = *ratio * 100;
  // 99.95% must not read as 100%: only a full 1 does.
  if (pct < 100 && pct >= 99.95) return "99.9%";
  return Printf(pct == std::floor(pct) ? "%.0f%%" : "%.1f%%", pct);
}

std::string FitWidth(std::string_view line, int width) {
  std::string out;
  int cols = 0;
  bool in_color = false, cut = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\x1b') {  // copy the whole CSI sequence; it takes no column
      size_t end = i + 1;
      if (end < line.size() && line[end] == '[') {
        ++end;
        while (end < line.size() && !(line[end] >= '@' && line[end] <= '~')) ++end;
      }
      std::string_view seq = line.substr(i, end - i + 1);
      if (!cut) {
        out += seq;
        in_color = seq != kReset;
      }
      i = end;
      continue;
    }
    bool continuation = (static_cast<unsigned char>(c) & 0xC0) == 0x80;
    if (!continuation) {
      if (cols >= width) cut = true;
      if (!cut) ++cols;
    }
    if (!cut) out += c;
  }
  if (cut && in_color) out += kReset;
  return out;
}

std::string RenderHeadline(const Snapshot& s, const ViewOptions& o) {
  int down = 0, degraded = 0, recovering = 0;
  for (const auto& sv : s.services) {
    down += sv.state == ServiceState::kDown;
    degraded += sv.state == ServiceState::kDegraded;
    recovering += sv.state == ServiceState::kRecovering;
  }
  std::string verdict(status::OverallName(s.overall));
  std::transform(verdict.begin(), verdict.end(), verdict.begin(), ::toupper);
  std::string line = (s.host.name.empty() ? std::string("vigil") : Clean(s.host.name)) + ": " +
                     Paint(o, OverallSgr(s.overall), verdict) + "  " + std::to_string(s.services.size()) + " services";
  if (down) line += ", " + Paint(o, "1;31", std::to_string(down) + " down");
  if (degraded) line += ", " + Paint(o, "33", std::to_string(degraded) + " degraded");
  if (recovering) line += ", " + Paint(o, "36", std::to_string(recovering) + " recovering");
  return FitWidth(line, o.width);
}

std::vector<std::string> RenderServicesPane(const Snapshot& s, const ViewOptions& o) {
  std::vector<std::string> out;
  AddServices(s, o, out);
  out.push_back("");
  out.push_back(
      FitWidth("  alerts  " + Counts(s.alerts.counts, o) + "  pending " + std::to_string(s.alerts.pending), o.width));
  // The most urgent few (the alerts pane lists them all), then the host: a
  // taller window shows more, the caller cuts what does not fit.
  constexpr size_t kOverviewAlerts = 5;
  double now = Now(s, o);
  for (size_t i = 0; i < s.alerts.firing.size() && i < kOverviewAlerts; ++i) {
    out.push_back(FitWidth("  " + AlertLine(s.alerts.firing[i], o, now), o.width));
  }
  out.push_back("");
  AddHost(s, o, out);
  return out;
}

std::vector<std::string> RenderAlertsPane(const Snapshot& s, const ViewOptions& o, int selected) {
  std::vector<std::string> out;
  out.push_back(
      FitWidth("  firing  " + Counts(s.alerts.counts, o) + "  pending " + std::to_string(s.alerts.pending), o.width));
  out.push_back(Paint(o, "1", FitWidth("  PRIO ALERT                    SERVICE      FOR    SUMMARY", o.width)));
  if (s.alerts.firing.empty()) out.push_back("  (no alert is firing)");
  double now = Now(s, o);
  for (size_t i = 0; i < s.alerts.firing.size(); ++i) {
    bool sel = static_cast<int>(i) == selected;
    std::string line = FitWidth((sel ? "> " : "  ") + AlertLine(s.alerts.firing[i], o, now), o.width);
    // Reverse video marks the selection too, but the '>' alone is enough.
    out.push_back(sel && o.color ? "\x1b[7m" + line + kReset : line);
  }
  return out;
}

std::vector<std::string> RenderHostPane(const Snapshot& s, const ViewOptions& o) {
  std::vector<std::string> out;
  AddHost(s, o, out);
  return out;
}

std::vector<std::string> RenderStatus(const Snapshot& s, const ViewOptions& o) {
  std::vector<std::string> out{RenderHeadline(s, o), ""};
  AddServices(s, o, out);
  out.push_back("");
  out.push_back(FitWidth(
      Paint(o, "1", "ALERTS") + "  " + Counts(s.alerts.counts, o) + "  pending " + std::to_string(s.alerts.pending),
      o.width));
  constexpr size_t kMaxAlerts = 10;  // one screen: the rest are counted
  double now = Now(s, o);
  for (size_t i = 0; i < s.alerts.firing.size() && i < kMaxAlerts; ++i) {
    out.push_back(FitWidth("  " + AlertLine(s.alerts.firing[i], o, now), o.width));
  }
  if (s.alerts.firing.size() > kMaxAlerts) {
    out.push_back("  ... and " + std::to_string(s.alerts.firing.size() - kMaxAlerts) + " more (vigil alerts)");
  }
  out.push_back("");
  out.push_back(Paint(o, "1", "HOST"));
  AddHost(s, o, out);
  return out;
}

}  // namespace vigil::cli
