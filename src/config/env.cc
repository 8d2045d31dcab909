#include "config/env.h"

#include <cctype>

namespace vigil::config {
namespace {

constexpr size_t kMaxEnvValueBytes = 1 << 20;
constexpr size_t kMaxEnvTotalBytes = 16 << 20;

bool IsVarStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsVarChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

Result<std::string> ExpandVariables(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (next != '{') {
      out += c;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return Status::Error("unterminated \"${\": expected \"}\"");
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    if (size_t dash = body.find(":-"); dash != std::string_view::npos) {
      name = body.substr(0, dash);
      fallback = body.substr(dash + 2);
    }
    bool valid = !name.empty() && IsVarStart(name[0]);
    for (char nc : name) valid = valid && IsVarChar(nc);
    if (!valid) {
      return Status::Error("invalid variable reference \"${" + std::string(body) +
                           "}\": use ${NAME} or ${NAME:-default}");
    }
    std::optional<std::string> value = env(name);
    if (value && (!value->empty() || !fallback)) {
      out += *value;
    } else if (fallback) {
      out += *fallback;  // like the shell, ":-" also applies when the variable is empty
    } else {
      return Status::Error("environment variable " + std::string(name) +
                           " is not set (set it, add it to an env file, or write ${" + std::string(name) +
                           ":-default})");
    }
    i = close;
  }
  return out;
}

namespace {

// Expands $VAR and ${VAR} shell-style: unset variables become empty.
std::string ShellExpand(std::string_view text, const std::map<std::string, std::string>& vars, const EnvLookup& env) {
  auto lookup = [&](std::string_view name) -> std::string {
    if (auto it = vars.find(std::string(name)); it != vars.end()) return it->second;
    return env(name).value_or("");
  };
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() <= kMaxEnvValueBytes; ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        out += text.substr(i);
        break;
      }
      std::string_view body = text.substr(i + 2, close - i - 2);
      if (size_t dash = body.find(":-"); dash != std::string_view::npos) {
        std::string v = lookup(body.substr(0, dash));
        out += v.empty() ? std::string(body.substr(dash + 2)) : v;
      } else {
        out += lookup(body);
      }
      i = close;
    } else if (IsVarStart(text[i + 1])) {
      size_t end = i + 1;
      while (end < text.size() && IsVarChar(text[end])) ++end;
      out += lookup(text.substr(i + 1, end - i - 1));
      i = end - 1;
    } else {
      out += '$';
    }
  }
  return out;
}

}  // namespace

EnvFile ParseEnvFile(std::string_view content, const EnvLookup& env) {
  EnvFile result;
  size_t total_bytes = 0;
  int line_no = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    ++line_no;
    size_t nl = content.find('\n', pos);
    std::string_view line = content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? content.size() : nl + 1;

    size_t i = 0;
    auto skip_space = [&] {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    };
    skip_space();
    if (i >= line.size() || line[i] == '#') continue;
    if (line.substr(i, 7) == "export " || line.substr(i, 7) == "export\t") {
      i += 7;
      skip_space();
    }
    size_t key_start = i;
    while (i < line.size() && IsVarChar(line[i])) ++i;
    std::string key(line.substr(key_start, i - key_start));
    if (key.empty() || !IsVarStart(key[0])) {
      result.problems.push_back({line_no, "expected KEY=VALUE or export KEY=VALUE"});
      continue;
    }
    if (i >= line.size() || line[i] != '=') {
      result.problems.push_back({line_no, "expected \"=\" after " + key});
      continue;
    }
    ++i;
    std::string value;
    bool ok = true;
    // A value may be made of several quoted and unquoted pieces, as in a shell.
    while (i < line.size() && ok) {
      char c = line[i];
      if (c == '\'') {
        size_t close = line.find('\'', i + 1);
        if (close == std::string_view::npos) {
          result.problems.push_back({line_no, "unterminated single quote in value of " + key});
          ok = false;
          break;
        }
        value += line.substr(i + 1, close - i - 1);
        i = close + 1;
      } else if (c == '"') {
        std::string raw;
        size_t j = i + 1;
        bool closed = false;
        for (; j < line.size(); ++j) {
          if (line[j] == '\\' && j + 1 < line.size() &&
              (line[j + 1] == '"' || line[j + 1] == '\\' || line[j + 1] == '`')) {
            raw += line[++j];
          } else if (line[j] == '\\' && j + 1 < line.size() && line[j + 1] == '$') {
            raw += "\\$";
            ++j;
          } else if (line[j] == '"') {
            closed = true;
            break;
          } else {
            raw += line[j];
          }
        }
        if (!closed) {
          result.problems.push_back({line_no, "unterminated double quote in value of " + key});
          ok = false;
          break;
        }
        value += ShellExpand(raw, result.vars, env);
        i = j + 1;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        skip_space();
        if (i < line.size() && line[i] != '#') {
          result.problems.push_back(
              {line_no, "unexpected text after the value of " + key + " (quote values that contain spaces)"});
          ok = false;
        }
        break;
      } else {
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' && line[j] != '\'' &&
               line[j] != '"')
          ++j;
        value += ShellExpand(line.substr(i, j - i), result.vars, env);
        i = j;
      }
    }
    // $A$A on every line doubles a value each time: cap values and their total
    // instead of running out of memory.
    if (ok && value.size() > kMaxEnvValueBytes) {
      result.problems.push_back({line_no, "value of " + key + " is longer than 1 MiB"});
      ok = false;
    }
    if (ok && total_bytes + value.size() > kMaxEnvTotalBytes) {
      result.problems.push_back({line_no, "env file values add up to more than 16 MiB"});
      ok = false;
    }
    if (ok) {
      total_bytes += value.size();
      result.vars[key] = std::move(value);
    }
  }
  return result;
}

}  // namespace vigil::config
