#include "collect/host/procfs.h"

#include "base/strings.h"

namespace vigil::collect::procfs {

Stat ParseStat(std::string_view text) {
  Stat stat;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 2) return;
    if (StartsWith(f[0], "cpu") && f[0].size() > 3) {
      CpuTimes c;
      c.cpu = std::string(f[0].substr(3));
      if (!ParseUint64(c.cpu)) return;
      for (size_t i = 1; i < f.size() && i <= 10; ++i) c.ticks[i - 1] = ParseUint64(f[i]).value_or(0);
      stat.cpus.push_back(std::move(c));
    } else if (f[0] == "btime") {
      stat.boot_time = ParseUint64(f[1]);
    } else if (f[0] == "ctxt") {
      stat.context_switches = ParseUint64(f[1]);
    } else if (f[0] == "processes") {
      stat.forks = ParseUint64(f[1]);
    } else if (f[0] == "intr") {
      stat.interrupts = ParseUint64(f[1]);
    } else if (f[0] == "procs_running") {
      stat.procs_running = ParseUint64(f[1]);
    } else if (f[0] == "procs_blocked") {
      stat.procs_blocked = ParseUint64(f[1]);
    }
  });
  return stat;
}

std::optional<LoadAvg> ParseLoadAvg(std::string_view text) {
  auto f = SplitFields(Trim(text));
  if (f.size() < 3) return std::nullopt;
  auto a = ParseDouble(f[0]), b = ParseDouble(f[1]), c = ParseDouble(f[2]);
  if (!a || !b || !c) return std::nullopt;
  return LoadAvg{*a, *b, *c};
}

std::vector<std::pair<std::string, double>> ParseMemInfo(std::string_view text) {
  std::vector<std::pair<std::string, double>> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 2 || f.size() > 3 || !EndsWith(f[0], ":")) return;
    std::string_view raw = f[0].substr(0, f[0].size() - 1);
    auto value = ParseDouble(f[1]);
    if (!value || raw.empty()) return;
    // "Active(anon)" becomes "Active_anon", as node_exporter names it.
    std::string key;
    for (char c : raw) {
      if (c == '(') {
        key += '_';
      } else if (c != ')') {
        key += c;
      }
    }
    if (key.empty()) return;  // ")" alone names nothing
    double v = *value;
    if (f.size() == 3) {
      if (f[2] != "kB") return;  // the kernel only uses kB; anything else is not understood
      v *= 1024;
      key += "_bytes";
    }
    out.emplace_back(std::move(key), v);
  });
  return out;
}

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    // The kernel writes space, tab, newline and backslash as \ooo octal.
    if (field[i] == '\\' && i + 3 < field.size()) {
      char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::vector<Mount> ParseMounts(std::string_view text) {
  std::vector<Mount> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 4) return;
    out.push_back(
        Mount{UnescapeMountField(f[0]), UnescapeMountField(f[1]), UnescapeMountField(f[2]), std::string(f[3])});
  });
  return out;
}

std::vector<DiskStats> ParseDiskStats(std::string_view text) {
  std::vector<DiskStats> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 14) return;  // major minor name + at least the 11 classic fields
    DiskStats d;
    auto major = ParseUint64(f[0]), minor = ParseUint64(f[1]);
    if (!major || !minor) return;
    d.major = static_cast<uint32_t>(*major);
    d.minor = static_cast<uint32_t>(*minor);
    d.device = std::string(f[2]);
    for (size_t i = 3; i < f.size(); ++i) {
      auto v = ParseUint64(f[i]);
      if (!v) return;
      d.fields.push_back(*v);
    }
    out.push_back(std::move(d));
  });
  return out;
}

std::vector<NetDev> ParseNetDev(std::string_view text) {
  std::vector<NetDev> out;
  ForEachLine(text, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;  // the two header lines have no colon after a name
    std::string_view name = Trim(line.substr(0, colon));
    if (name.empty() || name.find('|') != std::string_view::npos) return;
    auto f = SplitFields(line.substr(colon + 1));
    if (f.size() < 16) return;
    NetDev d;
    d.device = std::string(name);
    for (size_t i = 0; i < 8; ++i) {
      auto r = ParseUint64(f[i]), t = ParseUint64(f[i + 8]);
      if (!r || !t) return;
      d.receive[i] = *r;
      d.transmit[i] = *t;
    }
    out.push_back(std::move(d));
  });
  return out;
}

std::optional<FileNr> ParseFileNr(std::string_view text) {
  auto f = SplitFields(Trim(text));
  if (f.size() != 3) return std::nullopt;
  auto a = ParseUint64(f[0]), m = ParseUint64(f[2]);
  if (!a || !m) return std::nullopt;
  return FileNr{*a, *m};
}

Pressure ParsePressure(std::string_view text) {
  Pressure p;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.empty()) return;
    for (size_t i = 1; i < f.size(); ++i) {
      if (!StartsWith(f[i], "total=")) continue;
      auto v = ParseUint64(f[i].substr(6));
      if (f[0] == "some") p.some_total_us = v;
      if (f[0] == "full") p.full_total_us = v;
    }
  });
  return p;
}

std::map<std::string, std::map<std::string, uint64_t>> ParseSockStat(std::string_view text) {
  std::map<std::string, std::map<std::string, uint64_t>> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 3 || !EndsWith(f[0], ":")) return;
    std::string proto(f[0].substr(0, f[0].size() - 1));
    for (size_t i = 1; i + 1 < f.size(); i += 2) {
      if (auto v = ParseUint64(f[i + 1])) out[proto][std::string(f[i])] = *v;
    }
  });
  return out;
}

std::vector<std::pair<std::string, double>> ParseNetStat(std::string_view text) {
  std::vector<std::pair<std::string, double>> out;
  std::vector<std::string_view> header;
  std::string_view header_proto;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.empty() || !EndsWith(f[0], ":")) return;
    std::string_view proto = f[0].substr(0, f[0].size() - 1);
    // Lines come in pairs: names, then values for the same protocol.
    if (header.empty() || proto != header_proto) {
      header = f;
      header_proto = proto;
      return;
    }
    if (f.size() == header.size()) {
      for (size_t i = 1; i < f.size(); ++i) {
        if (auto v = ParseDouble(f[i])) out.emplace_back(std::string(proto) + "_" + std::string(header[i]), *v);
      }
    }
    header.clear();
  });
  return out;
}

std::vector<std::pair<std::string, double>> ParseSnmp6(std::string_view text) {
  std::vector<std::pair<std::string, double>> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() != 2) return;
    std::string_view key = f[0];
    // "Ip6InReceives" -> "Ip6_InReceives", "Udp6InDatagrams" -> "Udp6_InDatagrams", "UdpLite6…" likewise.
    size_t six = key.find('6');
    if (six == std::string_view::npos) return;
    auto v = ParseDouble(f[1]);
    if (!v) return;
    out.emplace_back(std::string(key.substr(0, six + 1)) + "_" + std::string(key.substr(six + 1)), *v);
  });
  return out;
}

std::vector<std::pair<std::string, double>> ParseVmStat(std::string_view text) {
  std::vector<std::pair<std::string, double>> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() != 2) return;
    if (auto v = ParseDouble(f[1])) out.emplace_back(std::string(f[0]), *v);
  });
  return out;
}

namespace {

std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

std::vector<Softnet> ParseSoftnetStat(std::string_view text) {
  std::vector<Softnet> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 3) return;
    auto processed = ParseHex(f[0]), dropped = ParseHex(f[1]), squeezed = ParseHex(f[2]);
    if (!processed || !dropped || !squeezed) return;
    out.push_back({*processed, *dropped, *squeezed});
  });
  return out;
}

std::optional<UdpQueues> ParseUdpQueues(std::string_view text) {
  UdpQueues q;
  bool header = false;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.size() < 5) return;
    if (f[0] == "sl") {
      header = true;
      return;
    }
    // "  0: 0100007F:0035 00000000:0000 07 00000000:00000000 …": field 4 is tx_queue:rx_queue.
    size_t colon = f[4].find(':');
    if (colon == std::string_view::npos) return;
    auto tx = ParseHex(f[4].substr(0, colon)), rx = ParseHex(f[4].substr(colon + 1));
    if (!tx || !rx) return;
    q.tx += *tx;
    q.rx += *rx;
  });
  if (!header) return std::nullopt;
  return q;
}

std::map<std::string, uint64_t> ParseArpEntries(std::string_view text) {
  std::map<std::string, uint64_t> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    // IP address, HW type, Flags, HW address, Mask, Device; the header starts with "IP".
    if (f.size() != 6 || f[0] == "IP") return;
    ++out[std::string(f[5])];
  });
  return out;
}

std::map<std::string, uint64_t> ParseConntrackStat(std::string_view text) {
  std::map<std::string, uint64_t> out;
  std::vector<std::string_view> header;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line);
    if (f.empty()) return;
    if (header.empty()) {
      header = f;
      return;
    }
    for (size_t i = 0; i < f.size() && i < header.size(); ++i) {
      if (auto v = ParseHex(f[i])) out[std::string(header[i])] += *v;
    }
  });
  return out;
}

std::optional<int64_t> ParseSysfsInt(std::string_view text) {
  std::string_view t = Trim(text);
  if (StartsWith(t, "0x")) {
    auto v = ParseHex(t.substr(2));
    if (!v || *v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(*v);
  }
  return ParseInt64(t);
}

}  // namespace vigil::collect::procfs
