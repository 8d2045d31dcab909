#include "cli/silence_commands.h"

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "alert/alert.h"
#include "base/time.h"
#include "cli/output.h"
#include "http/client.h"
#include "notify/api.h"

namespace vigil::cli {
namespace {

using nlohmann::json;
constexpr Duration kTimeout{30000};

}  // namespace

int AddSilence(const SilenceAddOptions& o) {
  json matchers = json::array();
  for (const auto& text : o.matchers) {
    auto parsed = alert::ParseMatchers(text);
    if (!parsed.ok()) return Fail(parsed.status().message());
    for (auto& m : notify::AlertmanagerMatchers(*parsed)) matchers.push_back(std::move(m));
  }
  Result<Duration> d = ParseDuration(o.duration);
  if (!d.ok()) return Fail("--duration: " + d.status().message());
  TimestampMs start = SystemClock().NowMs();
  if (!o.start.empty()) {
    Result<TimestampMs> t = ParseTime(o.start);
    if (!t.ok()) return Fail("--start: " + t.status().message());
    start = *t;
  }
  std::string author = o.author;
  if (author.empty()) {
    const char* user = getenv("USER");
    author = user ? user : "vigil";
  }
  json body = {{"matchers", matchers},
               {"startsAt", FormatTime(start)},
               {"endsAt", FormatTime(start + d->count())},
               {"createdBy", author},
               {"comment", o.comment}};
  auto r = http::PostJson(o.server, "/api/v2/silences", body.dump(), kTimeout);
  if (!r.ok()) return Fail(r.status().message());
  if (r->status != 200) return Fail(ApiError(*r));
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("silenceID")) return Fail("unexpected answer: " + r->body.substr(0, 200));
  std::printf("%s\n", j["silenceID"].get<std::string>().c_str());
  return 0;
}

int ListSilences(const std::string& server, bool expired, bool as_json) {
  auto r = http::Get(server, "/api/v2/silences", kTimeout);
  if (!r.ok()) return Fail(r.status().message());
  if (r->status != 200) return Fail(ApiError(*r));
  json all = json::parse(r->body, nullptr, false);
  if (!all.is_array()) return Fail("unexpected answer: " + r->body.substr(0, 200));
  json shown = json::array();
  for (const auto& s : all) {
    if (expired || s["status"]["state"] != "expired") shown.push_back(s);
  }
  if (as_json) {
    std::printf("%s\n", shown.dump().c_str());
    return 0;
  }
  std::printf("%-36s  %-8s  %-24s  %-24s  %-12s  %s\n", "ID", "STATE", "ENDS", "MATCHERS", "CREATED BY", "COMMENT");
  for (const auto& s : shown) {
    std::string matchers;
    for (const auto& m : s["matchers"]) {
      bool re = m["isRegex"], eq = m["isEqual"];
      matchers += (matchers.empty() ? "" : ",") + m["name"].get<std::string>() +
                  (re ? (eq ? "=~" : "!~") : (eq ? "=" : "!=")) + "\"" + m["value"].get<std::string>() + "\"";
    }
    std::printf("%-36s  %-8s  %-24s  %-24s  %-12s  %s\n", s["id"].get<std::string>().c_str(),
                s["status"]["state"].get<std::string>().c_str(), s["endsAt"].get<std::string>().c_str(),
                matchers.c_str(), s["createdBy"].get<std::string>().c_str(), s["comment"].get<std::string>().c_str());
  }
  return 0;
}

int ExpireSilence(const std::string& server, const std::string& id) {
  auto r = http::Delete(server, "/api/v2/silence/" + id, kTimeout);
  if (!r.ok()) return Fail(r.status().message());
  if (r->status != 200) return Fail(ApiError(*r));
  std::printf("expired %s\n", id.c_str());
  return 0;
}

}  // namespace vigil::cli
