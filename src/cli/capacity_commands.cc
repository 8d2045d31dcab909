#include "cli/capacity_commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/output.h"
#include "http/client.h"

namespace vigil::cli {

int ShowCapacity(const std::string& server, bool as_json) {
  auto r = http::Get(server, "/api/v1/capacity", Duration(60000));
  if (!r.ok()) {
    Fail(r.status().message());
    return 3;
  }
  if (r->status != 200) {
    Fail(server + "/api/v1/capacity: " + ApiError(*r));
    return 3;
  }
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("data") || !j["data"].contains("resources") || !j["data"]["resources"].is_array()) {
    Fail(server + "/api/v1/capacity: an answer without data.resources");
    return 3;
  }
  const auto& resources = j["data"]["resources"];
  if (as_json) {
    std::printf("%s\n", j["data"].dump().c_str());
  } else if (resources.empty()) {
    std::printf("no resources with history yet\n");
  }
  int code = 0;
  for (const auto& res : resources) {
    if (!as_json) std::printf("%s\n", res.value("recommendation", std::string()).c_str());
    const auto& days = res.contains("daysToFull") ? res["daysToFull"]["estimate"] : nlohmann::json();
    if (days.is_number() && days.get<double>() < 7) code = 1;
  }
  return code;
}

}  // namespace vigil::cli
