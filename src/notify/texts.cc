#include "notify/texts.h"

#include <nlohmann/json.hpp>

namespace vigil::notify {

Texts::Texts(const std::map<std::string, std::string>& templates, std::optional<tmpl::Template> library)
    : library_(std::move(library)) {
  for (const auto& [field, text] : templates) {
    if (!text.empty()) templates_.emplace(field, text);
  }
}

std::vector<std::string> Texts::FieldsUnder(std::string_view prefix) const {
  std::vector<std::string> out;
  for (const auto& [field, text] : templates_) {
    if (field.starts_with(prefix)) out.push_back(field.substr(prefix.size()));
  }
  return out;
}

std::optional<std::string> Texts::Try(std::string_view field, const std::function<tmpl::Value()>& data) const {
  auto it = templates_.find(field);
  if (it == templates_.end()) return std::nullopt;
  // Parsed per use: `vigil check config` has already rejected what does not
  // parse, and notifications are too rare for a cache to matter.
  Result<tmpl::Template> t = tmpl::Template::Parse(it->second);
  if (!t.ok()) {
    errors_.push_back(std::string(field) + ": " + t.status().message());
    return std::nullopt;
  }
  if (library_) t->Use(*library_);
  Result<std::string> out = t->Execute(data(), {});
  if (!out.ok()) {
    errors_.push_back(std::string(field) + ": " + out.status().message());
    return std::nullopt;
  }
  // Receivers reject an empty summary or SMS body: a page must never be lost to that.
  if (out->find_first_not_of(" \t\r\n") == std::string::npos) {
    errors_.push_back(std::string(field) + ": the template rendered nothing");
    return std::nullopt;
  }
  // Every message is sent as JSON, which only holds UTF-8.
  try {
    (void)nlohmann::json(*out).dump();
  } catch (const nlohmann::json::exception&) {
    errors_.push_back(std::string(field) + ": the template rendered invalid UTF-8");
    return std::nullopt;
  }
  return std::move(*out);
}

}  // namespace vigil::notify
