// A receiver's custom texts: Go templates (src/template) per message field,
// run over the notification's data. A field without a template, or whose
// template fails, keeps vigil's default text, so a broken template never
// loses a page.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "template/template.h"

namespace vigil::notify {

class Texts {
 public:
  Texts() = default;
  // Field name ("title", "text", "details.runbook", …) -> template text; empty texts are dropped.
  // `library` holds the {{define}}s the templates may call (alerting.templates).
  explicit Texts(const std::map<std::string, std::string>& templates, std::optional<tmpl::Template> library = {});

  bool has(std::string_view field) const { return templates_.count(field) != 0; }
  // The fields whose name starts with `prefix`, without it ("details." -> "runbook").
  std::vector<std::string> FieldsUnder(std::string_view prefix) const;
  // `field`'s template run over data(), or nullopt when the field has none
  // or it fails: an error, nothing but white space, or invalid UTF-8 (the
  // failure is kept in errors()). data() is only called when there is a
  // template to run.
  std::optional<std::string> Try(std::string_view field, const std::function<tmpl::Value()>& data) const;
  std::string Render(std::string_view field, const std::function<tmpl::Value()>& data, std::string fallback) const {
    return Try(field, data).value_or(std::move(fallback));
  }
  // "FIELD: reason" per failed render, in order.
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::map<std::string, std::string, std::less<>> templates_;
  std::optional<tmpl::Template> library_;
  mutable std::vector<std::string> errors_;
};

}  // namespace vigil::notify
