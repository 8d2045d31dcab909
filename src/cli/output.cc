#include "cli/output.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace vigil::cli {

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string ApiError(const http::ClientResponse& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  std::string text = r.body.substr(0, 200);
  if (j.is_string()) {
    text = j.get<std::string>();
  } else if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    text = j["error"].get<std::string>();
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (r.status == 401) text += " (set VIGIL_HTTP_USER and VIGIL_HTTP_PASSWORD)";
  return "HTTP " + std::to_string(r.status) + ": " + text;
}

}  // namespace vigil::cli
