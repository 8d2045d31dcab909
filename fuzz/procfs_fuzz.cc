// Fuzzes every parser in collect/host/procfs.h. The first input byte picks the
// parser (modulo their number, in the order of the enum below; the seed corpus
// depends on that order) and the rest is the file's text. Besides crashes and
// sanitizer reports, it checks what each parser promises about its output.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collect/host/procfs.h"

namespace {

using namespace vigil::collect::procfs;

enum Parser : uint8_t {
  kStat,
  kLoadAvg,
  kMemInfo,
  kMounts,
  kUnescapeMountField,
  kDiskStats,
  kNetDev,
  kFileNr,
  kPressure,
  kSockStat,
  kNetStat,
  kSnmp6,
  kVmStat,
  kSoftnetStat,
  kUdpQueues,
  kArpEntries,
  kConntrackStat,
  kSysfsInt,
  kParserCount,
};

void Check(bool ok) {
  if (!ok) std::abort();
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool HasNone(std::string_view s, std::string_view chars) { return s.find_first_of(chars) == std::string_view::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % kParserCount) {
    case kStat:
      for (const auto& c : ParseStat(text).cpus) Check(AllDigits(c.cpu));
      break;
    case kLoadAvg: (void)ParseLoadAvg(text); break;
    case kMemInfo:
      for (const auto& [key, value] : ParseMemInfo(text)) Check(!key.empty() && HasNone(key, "() \t\n"));
      break;
    case kMounts:
      for (const auto& m : ParseMounts(text)) {
        // Unescaping only shrinks; options are passed through as one field.
        Check(!m.device.empty() && !m.mountpoint.empty() && !m.fstype.empty() && !m.options.empty());
        Check(m.device.size() + m.mountpoint.size() + m.fstype.size() + m.options.size() <= text.size());
        Check(HasNone(m.options, " \t\n"));
      }
      break;
    case kUnescapeMountField: {
      std::string out = UnescapeMountField(text);
      Check(out.size() <= text.size());
      if (text.find('\\') == std::string_view::npos) Check(out == text);
      break;
    }
    case kDiskStats:
      for (const auto& d : ParseDiskStats(text)) Check(d.fields.size() >= 11 && !d.device.empty());
      break;
    case kNetDev:
      for (const auto& d : ParseNetDev(text)) {
        Check(!d.device.empty() && HasNone(d.device, "|:\n"));
        Check(d.device.front() != ' ' && d.device.back() != ' ');
      }
      break;
    case kFileNr: (void)ParseFileNr(text); break;
    case kPressure: (void)ParsePressure(text); break;
    case kSockStat:
      for (const auto& [proto, fields] : ParseSockStat(text)) {
        Check(!fields.empty() && HasNone(proto, " \t\n"));
      }
      break;
    case kNetStat:
      for (const auto& [key, value] : ParseNetStat(text)) Check(key.find('_') != std::string::npos);
      break;
    case kSnmp6:
      for (const auto& [key, value] : ParseSnmp6(text)) Check(key.find("6_") != std::string::npos);
      break;
    case kVmStat:
      for (const auto& [key, value] : ParseVmStat(text)) Check(!key.empty() && HasNone(key, " \t\n"));
      break;
    case kSoftnetStat:
      // At most one CPU per line.
      Check(ParseSoftnetStat(text).size() <= static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
      break;
    case kUdpQueues: (void)ParseUdpQueues(text); break;
    case kArpEntries: {
      uint64_t total = 0;
      for (const auto& [device, count] : ParseArpEntries(text)) {
        Check(!device.empty() && HasNone(device, " \t\n") && count > 0);
        total += count;
      }
      Check(total <= static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')) + 1);
      break;
    }
    case kConntrackStat:
      for (const auto& [field, sum] : ParseConntrackStat(text)) Check(!field.empty() && HasNone(field, " \t\n"));
      break;
    case kSysfsInt:
      if (auto v = ParseSysfsInt(text); v && text.find("0x") == std::string_view::npos) {
        Check(text.find_first_of("0123456789") != std::string_view::npos);
      }
      break;
  }
  return 0;
}
