#include "init/init.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "base/strings.h"
#include "config/env.h"

namespace vigil::init {
namespace {

bool IsVarStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsVarChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Expands variables; `keep_unset` leaves an unset one as written (for a
// later pass), else it becomes empty; either way its name is recorded.
// `systemd`: ExecStart='s rules: "$$" is a literal "$", and $VAR (without
// braces) is only replaced when it is the whole argument.
std::string Expand(std::string_view text, const std::map<std::string, std::string>& vars, bool keep_unset, bool systemd,
                   std::vector<std::string>* unset) {
  std::string out;
  bool dollar_dollar = systemd;
  // "A=$A$A; A=$A$A; …" in a script doubles a value each time: stop at a size no real value reaches.
  constexpr size_t kMaxExpandedBytes = 1 << 20;
  bool bare_whole_word_only = systemd;
  for (size_t i = 0; i < text.size() && out.size() <= kMaxExpandedBytes; ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (dollar_dollar && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string_view name, fallback, whole;
    bool has_fallback = false;
    size_t end;
    if (text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        out += text.substr(i);
        break;
      }
      std::string_view body = text.substr(i + 2, close - i - 2);
      name = body;
      if (size_t dash = body.find(":-"); dash != std::string_view::npos) {
        name = body.substr(0, dash);
        fallback = body.substr(dash + 2);
        has_fallback = true;
      }
      end = close + 1;
    } else if (IsVarStart(text[i + 1])) {
      end = i + 1;
      while (end < text.size() && IsVarChar(text[end])) ++end;
      name = text.substr(i + 1, end - i - 1);
      if (bare_whole_word_only && (i != 0 || end != text.size())) {
        out += text.substr(i, end - i);
        i = end - 1;
        continue;
      }
    } else {
      out += '$';
      continue;
    }
    whole = text.substr(i, end - i);
    auto it = vars.find(std::string(name));
    if (it != vars.end() && !(has_fallback && it->second.empty())) {
      out += it->second;
    } else if (has_fallback) {
      out += fallback;
    } else {
      if (keep_unset) out += whole;
      if (unset != nullptr && std::find(unset->begin(), unset->end(), name) == unset->end()) unset->emplace_back(name);
    }
    i = end - 1;
  }
  return out;
}

// A single-quoted YAML scalar. vigil expands ${VAR} in every value, so a
// "$" that came from a file or command line is written as "$$".
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else if (c == '$')
      out += "$$";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

// A ${VAR} reference meant to be expanded by vigil.
std::string QuoteVariable(std::string_view name) { return "'${" + std::string(name) + "}'"; }

// A comment never spans lines, whatever a file name holds.
std::string OneLine(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

bool IsShell(std::string_view argv0) {
  std::string base = Basename(argv0);
  return base == "sh" || base == "bash" || base == "dash" || base == "zsh";
}

bool IsOperator(std::string_view w) { return w == ";" || w == "&&" || w == "||" || w == "|" || w == "&" || w == "\n"; }
bool IsRedirect(std::string_view w) { return w == ">" || w == ">>" || w == "2>" || w == "2>>" || w == "&>"; }

// A port as text, or nullopt when it is not 1..65535.
std::optional<std::string> Port(std::string_view s) {
  auto v = ParseUint64(Trim(s));
  if (!v || *v == 0 || *v > 65535) return std::nullopt;
  return std::to_string(*v);
}

// "HOST:PORT", "[::]:PORT" or "PORT" → a loopback-reachable host and the port.
std::optional<std::pair<std::string, std::string>> HostPort(std::string_view s) {
  s = Trim(s);
  std::string_view host, port = s;
  if (size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  auto p = Port(port);
  if (!p) return std::nullopt;
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  // An address or host name; anything else (a typo, a variable left unset) is not a place to connect to.
  for (char c : h) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' && c != '_')
      return std::nullopt;
  }
  if (h.empty() || h == "0.0.0.0" || h == "::" || h == "*" || h == "localhost") h = "127.0.0.1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return std::pair{h, *p};
}

}  // namespace

std::string ExpandVars(std::string_view text, const std::map<std::string, std::string>& vars,
                       std::vector<std::string>* unset) {
  return Expand(text, vars, /*keep_unset=*/false, /*dollar_dollar=*/false, unset);
}

EnvFileFacts ParseEnvFileFacts(const std::string& path, std::string_view content) {
  EnvFileFacts out;
  // Nothing from vigil's own environment leaks into what the unit would see.
  config::EnvFile parsed = config::ParseEnvFile(content, [](std::string_view) { return std::nullopt; });
  out.vars = std::move(parsed.vars);
  for (const auto& p : parsed.problems) out.problems.push_back(path + ":" + std::to_string(p.line) + ": " + p.message);
  ForEachLine(content, [&](std::string_view line) {
    line = Trim(line);
    if (!StartsWith(line, "export") || line.size() < 7 || (line[6] != ' ' && line[6] != '\t')) return;
    line = Trim(line.substr(7));
    size_t i = 0;
    while (i < line.size() && IsVarChar(line[i])) ++i;
    if (i > 0 && i < line.size() && line[i] == '=') out.export_keys.emplace_back(line.substr(0, i));
  });
  return out;
}

Result<std::vector<std::string>> ShellWords(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  auto flush = [&] {
    if (in_word) words.push_back(cur);
    cur.clear();
    in_word = false;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'') {
      size_t close = s.find('\'', i + 1);
      if (close == std::string_view::npos) return Status::Error("unterminated single quote");
      cur += s.substr(i + 1, close - i - 1);
      in_word = true;
      i = close;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && std::string_view("\"\\$`").find(s[j + 1]) != std::string_view::npos) {
          cur += s[++j];
        } else {
          cur += s[j];
        }
      }
      if (j >= s.size()) return Status::Error("unterminated double quote");
      in_word = true;
      i = j;
    } else if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] != '\n') cur += s[i + 1], in_word = true;
      ++i;
    } else if (c == ' ' || c == '\t') {
      flush();
    } else if (c == '#' && !in_word) {
      while (i + 1 < s.size() && s[i + 1] != '\n') ++i;
    } else if (c == '\n' || c == ';' || c == '|' || c == '&' || c == '>' || c == '<') {
      // "2>" and "2>&1": a lone digit right before ">" belongs to the operator.
      std::string op;
      if (c == '>' && in_word && (cur == "1" || cur == "2")) {
        op = cur;
        cur.clear();
        in_word = false;
      }
      flush();
      op += c;
      if (i + 1 < s.size() && (s[i + 1] == c || (c == '&' && s[i + 1] == '>'))) op += s[++i];
      if (StartsWith(op, "2>") && s.substr(i + 1, 2) == "&1") {
        op += "&1";
        i += 2;
      }
      if (op == "1>") op = ">";
      if (op == "1>>") op = ">>";
      words.push_back(op);
    } else {
      cur += c;
      in_word = true;
    }
  }
  flush();
  return words;
}

Command EffectiveCommand(const std::vector<std::string>& argv) {
  Command cmd;
  if (argv.size() < 3 || !IsShell(argv[0])) {
    cmd.argv = argv;
    return cmd;
  }
  // sh -c SCRIPT, also with combined flags such as -lc or -ec.
  size_t script_at = 0;
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i].size() >= 2 && argv[i][0] == '-' && argv[i][1] != '-' && argv[i].find('c') != std::string::npos) {
      script_at = i + 1;
      break;
    }
    if (argv[i].empty() || argv[i][0] != '-') break;
  }
  if (script_at == 0) {
    cmd.argv = argv;  // a script file: its contents are not read
    return cmd;
  }
  auto words = ShellWords(argv[script_at]);
  if (!words.ok()) {
    cmd.argv = argv;
    cmd.problem = "cannot read the shell script in ExecStart: " + words.status().message();
    return cmd;
  }
  cmd.from_shell = true;
  std::vector<std::string> segment;
  auto finish = [&] {
    if (segment.empty()) return;
    size_t i = 0;
    while (i < segment.size()) {  // leading assignments
      const std::string& w = segment[i];
      size_t eq = w.find('=');
      if (eq == std::string::npos || eq == 0 || !IsVarStart(w[0]) ||
          !std::all_of(w.begin(), w.begin() + static_cast<long>(eq), IsVarChar))
        break;
      cmd.assignments[w.substr(0, eq)] = w.substr(eq + 1);
      ++i;
    }
    std::vector<std::string> rest(segment.begin() + static_cast<long>(i), segment.end());
    segment.clear();
    if (rest.empty()) return;
    if ((rest[0] == "source" || rest[0] == ".") && rest.size() >= 2) {
      cmd.sourced_files.push_back(rest[1]);
    } else if (rest[0] == "cd" && rest.size() >= 2) {
      cmd.cd = rest[1];
    } else if (rest[0] == "export") {
      for (size_t k = 1; k < rest.size(); ++k) {
        size_t eq = rest[k].find('=');
        if (eq != std::string::npos && eq > 0) cmd.assignments[rest[k].substr(0, eq)] = rest[k].substr(eq + 1);
      }
    } else if (rest[0] != "set" && rest[0] != "umask" && rest[0] != "ulimit" && rest[0] != "echo" &&
               rest[0] != "true" && rest[0] != "sleep") {
      if (rest[0] == "exec" && rest.size() > 1) rest.erase(rest.begin());
      cmd.argv = std::move(rest);  // the last real command is the one that runs
    }
  };
  for (size_t i = 0; i < words->size(); ++i) {
    const std::string& w = (*words)[i];
    if (IsOperator(w)) {
      finish();
    } else if (IsRedirect(w)) {
      if (i + 1 < words->size() && (w == ">" || w == ">>" || w == "&>")) cmd.stdout_file = (*words)[i + 1];
      ++i;
    } else if (w == "2>&1" || w == "<") {
      if (w == "<") ++i;
    } else {
      segment.push_back(w);
    }
  }
  finish();
  if (cmd.argv.empty()) {
    cmd.argv = argv;
    cmd.problem = "found no command in the shell script in ExecStart";
  }
  return cmd;
}

namespace {

// The option that set a value and the value, for FlagValue and for saying where a value came from.
std::optional<std::pair<std::string, std::string>> FlagMatch(const std::vector<std::string>& argv,
                                                             const std::vector<std::string>& names) {
  std::optional<std::pair<std::string, std::string>> found;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    for (const auto& name : names) {
      std::vector<std::string> spellings{name};
      // bitcoind takes -name and --name alike.
      if (StartsWith(name, "-") && !StartsWith(name, "--")) spellings.push_back("-" + name);
      for (const auto& n : spellings) {
        if (StartsWith(a, n + "=")) {
          found = std::pair{name, a.substr(n.size() + 1)};
        } else if (a == n && StartsWith(n, "--") && i + 1 < argv.size()) {
          found = std::pair{name, argv[i + 1]};
        }
      }
    }
  }
  return found;
}

}  // namespace

std::optional<std::string> FlagValue(const std::vector<std::string>& argv, const std::vector<std::string>& names) {
  auto m = FlagMatch(argv, names);
  if (!m) return std::nullopt;
  return m->second;
}

bool FlagSet(const std::vector<std::string>& argv, const std::string& name) {
  bool set = false;
  std::string bare = name.substr(name.find_first_not_of('-'));
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string a = argv[i];
    size_t dashes = a.find_first_not_of('-');
    if (dashes == 0 || dashes == std::string::npos) continue;  // not a flag, or a bare "-"/"--"
    a = a.substr(dashes);
    if (a == bare) set = true;
    if (a == "no" + bare) set = false;
    if (StartsWith(a, bare + "=")) {
      std::string v = a.substr(bare.size() + 1);
      set = !(v == "0" || v == "false");
    }
  }
  return set;
}

BitcoinConf ParseBitcoinConf(const std::string& path, std::string_view content) {
  BitcoinConf conf;
  std::string section;
  int line_no = 0;
  ForEachLine(content, [&](std::string_view raw) {
    ++line_no;
    std::string_view line = raw;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) return;
    if (line.front() == '[') {
      if (line.back() != ']') {
        conf.problems.push_back(path + ":" + std::to_string(line_no) + ": a section header must end with \"]\"");
        return;
      }
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      return;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      // bitcoind accepts a bare "name" as name=1.
      std::string key(line);
      (section.empty() ? conf.top : conf.sections[section])[key] = "1";
      return;
    }
    std::string key(Trim(line.substr(0, eq)));
    std::string value(Trim(line.substr(eq + 1)));
    if (key.empty()) {
      conf.problems.push_back(path + ":" + std::to_string(line_no) + ": expected name=value");
      return;
    }
    // main.rpcport=8332 is the same as rpcport under [main].
    std::string sec = section;
    if (size_t dot = key.find('.'); dot != std::string::npos) {
      sec = key.substr(0, dot);
      key = key.substr(dot + 1);
    }
    (sec.empty() ? conf.top : conf.sections[sec])[key] = value;
  });
  return conf;
}

std::string StandardOutputFile(std::string_view unit_file) {
  std::string found;
  bool in_service = false;
  ForEachLine(unit_file, [&](std::string_view line) {
    line = Trim(line);
    if (StartsWith(line, "[")) {
      in_service = line == "[Service]";
      return;
    }
    if (!in_service || !StartsWith(line, "StandardOutput")) return;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || Trim(line.substr(0, eq)) != "StandardOutput") return;
    std::string_view v = Trim(line.substr(eq + 1));
    found.clear();  // a later assignment replaces an earlier one
    for (std::string_view kind : {"append:", "file:", "truncate:"}) {
      if (StartsWith(v, kind)) found = std::string(v.substr(kind.size()));
    }
  });
  return found;
}

// --- Rendering --------------------------------------------------------------

namespace {

// What was learnt about one unit: the command it runs and the variables it sees.
struct UnitView {
  const UnitFacts* unit = nullptr;
  Command cmd;
  std::vector<std::string> raw_argv;         // cmd.argv before any expansion: names the variables used
  std::string program;                       // basename of cmd.argv[0]
  std::string workdir;                       // where relative paths start
  std::map<std::string, std::string> env;    // what the program sees
  std::map<std::string, std::string> where;  // KEY -> the file (or "Environment=") that set it
  std::string stdout_file;
};

class Renderer {
 public:
  Renderer(const Host& host, const FileReader& read) : host_(host), read_(read) {}

  Output Run();

 private:
  struct Value {
    std::string text;  // rendered YAML value
    std::string why;   // where it came from, or why it is missing
    bool found = false;
  };

  std::string Abs(std::string_view path, const std::string& base) const {
    std::string p(path);
    if (p == "~") return host_.home;
    if (StartsWith(p, "~/")) return host_.home + p.substr(1);
    if (p.empty() || p[0] == '/') return p;
    std::string b = base.empty() ? "/" : base;
    if (b.back() != '/') b += '/';
    if (StartsWith(p, "./")) p = p.substr(2);
    return b + p;
  }

  const UnitFacts* FindUnit(const std::string& role) const {
    std::string want = "arch-" + role + "@" + host_.user + ".service";
    for (const auto& u : host_.units) {
      if (u.name == want) return &u;
    }
    return nullptr;
  }

  UnitView Inspect(const UnitFacts& u);
  void Note(std::string text) { notes_.push_back(OneLine(text)); }

  // "    key: value   # why" or "    # key: value   # why".
  void Line(std::string& out, int indent, const std::string& key, const Value& v) {
    out += std::string(static_cast<size_t>(indent), ' ');
    if (!v.found) out += "# ";
    out += key + ": " + v.text;
    if (!v.why.empty()) out += "   # " + OneLine(v.why);
    out += '\n';
  }

  // "--rpc-bind-port in ExecStart= of U; $RPC_PORT from FILE", or nullopt without the option.
  std::optional<std::pair<std::string, std::string>> Flag(const UnitView& v, const std::vector<std::string>& names) {
    auto m = FlagMatch(v.cmd.argv, names);
    if (!m) return std::nullopt;
    std::string why = m->first + " in ExecStart= of " + v.unit->name;
    if (auto raw = FlagMatch(v.raw_argv, names)) {
      const std::string& r = raw->second;
      for (size_t i = 0; i < r.size(); ++i) {
        if (r[i] != '$') continue;
        size_t j = i + 1 + (i + 1 < r.size() && r[i + 1] == '{');
        size_t k = j;
        while (k < r.size() && IsVarChar(r[k])) ++k;
        std::string name = r.substr(j, k - j);
        if (!name.empty() && v.where.count(name)) why += "; $" + name + " from " + v.where.at(name);
      }
    }
    return std::pair{m->second, why};
  }

  // Writes the bitcoind: block; `chain_dir` gets the chain's data directory and why it is that.
  void Bitcoind(std::string& out, const UnitView& v, Value& chain_dir);
  void Titan(std::string& out, const UnitView& v);
  void Validator(std::string& out, const UnitView& v);

  const Host& host_;
  const FileReader& read_;
  std::vector<std::string> notes_;
  std::vector<std::string> env_files_;  // referenced by ${VAR}s in the output
};

UnitView Renderer::Inspect(const UnitFacts& u) {
  UnitView v;
  v.unit = &u;
  std::string wd = u.working_directory;
  if (StartsWith(wd, "!")) wd = wd.substr(1);
  // Without WorkingDirectory=, system services start in /, user services in $HOME.
  v.workdir = wd.empty() ? (host_.user_bus ? host_.home : "/") : Abs(wd, "/");

  for (const auto& e : u.environment) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    v.env[e.substr(0, eq)] = e.substr(eq + 1);
    v.where[e.substr(0, eq)] = "Environment= of " + u.name;
  }
  for (std::string path : u.environment_files) {
    bool optional = StartsWith(path, "-");
    if (optional) path = path.substr(1);
    Result<std::string> content = read_(path);
    if (!content.ok()) {
      Note(u.name + ": EnvironmentFile=" + path + ": cannot read it: " + content.status().message() +
           (optional ? " (optional: systemd skips it)" : " (systemd refuses to start the unit without it)"));
      continue;
    }
    EnvFileFacts f = ParseEnvFileFacts(path, *content);
    for (const auto& p : f.problems) Note(u.name + ": EnvironmentFile=" + p);
    for (auto& [k, val] : f.vars) {
      if (std::find(f.export_keys.begin(), f.export_keys.end(), k) != f.export_keys.end()) continue;
      v.env[k] = val;
      v.where[k] = path;
    }
    if (!f.export_keys.empty()) {
      std::string keys;
      for (const auto& k : f.export_keys) keys += (keys.empty() ? "" : ", ") + k;
      Note(u.name + ": EnvironmentFile=" + path + " sets " + keys +
           " with `export`, which systemd ignores in EnvironmentFile= (the unit does not see them; drop "
           "`export`, or source the file from a shell in ExecStart=)");
    }
  }

  if (u.exec_start.empty()) {
    Note(u.name + ": has no ExecStart=");
    return v;
  }
  // systemd expands ${VAR} and $VAR in ExecStart= from Environment= and EnvironmentFile=; in a
  // shell script an unset one is kept for the shell pass below (systemd would blank it: noted then).
  bool shell = EffectiveCommand(u.exec_start).from_shell;
  std::vector<std::string> argv, systemd_unset;
  for (const auto& a : u.exec_start) {
    argv.push_back(Expand(a, v.env, /*keep_unset=*/shell, /*systemd=*/true, &systemd_unset));
  }
  v.cmd = EffectiveCommand(argv);
  v.raw_argv = EffectiveCommand(u.exec_start).argv;
  if (!v.cmd.problem.empty()) Note(u.name + ": " + v.cmd.problem);
  if (!shell) {
    for (const auto& name : systemd_unset) {
      Note(u.name + ": ExecStart= uses $" + name +
           ", which neither its Environment= nor EnvironmentFile= sets (systemd passes an empty string)");
    }
  }

  // What a shell script adds: its cd, the files it sources, its assignments.
  std::string shell_wd = v.workdir;
  if (!v.cmd.cd.empty()) shell_wd = Abs(Expand(v.cmd.cd, v.env, false, false, nullptr), v.workdir);
  for (const auto& file : v.cmd.sourced_files) {
    std::string path = Abs(Expand(file, v.env, false, false, nullptr), shell_wd);  // scripts cd first
    Result<std::string> content = read_(path);
    if (!content.ok()) {
      Note(u.name + ": ExecStart= sources " + path + ": cannot read it: " + content.status().message());
      continue;
    }
    EnvFileFacts f = ParseEnvFileFacts(path, *content);
    for (const auto& p : f.problems) Note(u.name + ": " + p);
    for (auto& [k, val] : f.vars) {
      v.env[k] = val;
      v.where[k] = path;
    }
  }
  for (const auto& [k, val] : v.cmd.assignments) {
    v.env[k] = Expand(val, v.env, false, false, nullptr);
    v.where[k] = "the shell script in ExecStart=";
  }
  std::vector<std::string> unset;
  if (shell) {
    for (auto& a : v.cmd.argv) a = Expand(a, v.env, false, false, &unset);
  }
  for (const auto& name : shell ? systemd_unset : std::vector<std::string>{}) {
    if (v.env.count(name)) {
      Note(u.name + ": ExecStart= uses ${" + name +
           "}, which systemd replaces (with an empty string: no Environment= "
           "or EnvironmentFile= sets it) before the shell sets it; write $${" +
           name + "} to leave it to the shell");
    }
  }
  for (const auto& name : unset) {
    Note(u.name + ": ExecStart= uses $" + name +
         ", which neither its Environment=, EnvironmentFile= nor a sourced "
         "file sets (read as empty)");
  }
  v.workdir = shell_wd;
  if (!v.cmd.argv.empty()) v.program = Basename(v.cmd.argv[0]);
  if (!v.cmd.stdout_file.empty()) {
    v.stdout_file = Abs(Expand(v.cmd.stdout_file, v.env, false, false, nullptr), v.workdir);
  } else if (!u.fragment_path.empty()) {
    Result<std::string> text = read_(u.fragment_path);
    if (!text.ok()) Note(u.name + ": cannot read its unit file " + u.fragment_path + ": " + text.status().message());
    if (text.ok()) {
      std::string file = StandardOutputFile(*text);
      if (!file.empty()) v.stdout_file = Abs(file, "/");
    }
  }
  return v;
}

void Renderer::Bitcoind(std::string& out, const UnitView& v, Value& chain_dir) {
  const auto& argv = v.cmd.argv;
  bool is_bitcoind = v.program == "bitcoind";
  std::string cmdline_src = "ExecStart= of " + v.unit->name;
  if (!is_bitcoind) {
    Note(v.unit->name + ": ExecStart= runs " + (argv.empty() ? std::string("nothing") : argv[0]) +
         ", not bitcoind: its options could not be read, bitcoind's defaults are assumed");
  }

  // Where bitcoind keeps its data and reads bitcoin.conf.
  // An empty -datadir= or datadir= is no setting at all to bitcoind: it uses its default.
  std::string datadir = host_.home + "/.bitcoin";
  std::string datadir_why = "bitcoind's default (no -datadir in " + cmdline_src + ")";
  bool datadir_flag = false;
  if (auto d = Flag(v, {"-datadir"})) {
    if (d->first.empty()) {
      datadir_why = "bitcoind's default (-datadir is empty in " + cmdline_src + ")";
    } else {
      datadir = Abs(d->first, v.workdir);
      datadir_why = d->second;
      datadir_flag = true;
    }
  }
  std::string conf_path = datadir + "/bitcoin.conf";
  bool conf_explicit = false;
  if (auto c = FlagValue(argv, {"-conf"})) {
    conf_path = Abs(*c, datadir);
    conf_explicit = true;
  }
  BitcoinConf conf;
  bool conf_read = false;
  if (Result<std::string> text = read_(conf_path); text.ok()) {
    conf = ParseBitcoinConf(conf_path, *text);
    conf_read = true;
    for (const auto& p : conf.problems) Note(p);
    if (auto it = conf.top.find("datadir"); it != conf.top.end() && !it->second.empty() && !datadir_flag) {
      datadir = Abs(it->second, "/");
      datadir_why = "datadir= in " + conf_path;
    }
  } else if (conf_explicit) {
    Note(v.unit->name + ": -conf=" + conf_path + ": cannot read it: " + text.status().message());
  }
  std::string conf_desc = conf_read ? conf_path : conf_path + " (not readable)";

  // The chain decides the default port, the section read and the cookie's directory.
  std::string chain = "main";
  auto chain_from = [&](const std::vector<std::string>& args) -> std::optional<std::string> {
    if (auto c = FlagValue(args, {"-chain"})) return *c;
    for (const char* net : {"regtest", "signet", "testnet4", "testnet"}) {
      if (FlagSet(args, std::string("-") + net)) return std::string(net == std::string("testnet") ? "test" : net);
    }
    return std::nullopt;
  };
  std::vector<std::string> conf_args{"bitcoin.conf"};
  for (const auto& [k, val] : conf.top) conf_args.push_back("-" + k + "=" + val);
  if (auto c = chain_from(argv))
    chain = *c;
  else if (auto c2 = chain_from(conf_args))
    chain = *c2;
  static const std::map<std::string, std::pair<std::string, std::string>> kChains = {
      {"main", {"", "8332"}},
      {"test", {"testnet3", "18332"}},
      {"testnet4", {"testnet4", "48332"}},
      {"signet", {"signet", "38332"}},
      {"regtest", {"regtest", "18443"}}};
  auto chain_it = kChains.find(chain);
  if (chain_it == kChains.end()) {
    Note(v.unit->name + ": unknown chain \"" + chain + "\"; main's defaults are assumed");
    chain_it = kChains.find("main");
  }
  std::string netdir = datadir + (chain_it->second.first.empty() ? "" : "/" + chain_it->second.first);
  chain_dir = {"[" + Quote(netdir) + "]", "the chain's data (datadir: " + datadir_why + "; chain " + chain + ")", true};

  // A value from the command line, else the chain's section, else (main only, as bitcoind) the top of bitcoin.conf.
  auto conf_value = [&](const std::string& key) -> std::optional<std::pair<std::string, std::string>> {
    if (auto f = Flag(v, {"-" + key})) return f;
    if (auto s = conf.sections.find(chain); s != conf.sections.end()) {
      if (auto k = s->second.find(key); k != s->second.end())
        return std::pair{k->second, key + "= under [" + chain + "] in " + conf_path};
    }
    if (auto k = conf.top.find(key); k != conf.top.end()) {
      if (chain == "main" || (key != "rpcport" && key != "rpcbind"))
        return std::pair{k->second, key + "= in " + conf_path};
      Note(conf_path + ": rpcport= outside a [" + chain + "] section is ignored by bitcoind on " + chain);
    }
    return std::nullopt;
  };

  Value url;
  std::string port = chain_it->second.second;
  if (auto p = conf_value("rpcport")) {
    if (auto ok = Port(p->first)) {
      port = *ok;
      url.why = p->second;
    } else {
      Note(v.unit->name + ": " + p->second + " is not a port (\"" + p->first + "\"); the default " + port +
           " is assumed");
      url.why = "default for " + chain + ": " + p->second + " is not a port";
    }
  } else {
    url.why = "bitcoind's default for " + chain + ": no -rpcport in ExecStart= and no rpcport= in " + conf_desc;
  }
  url.text = Quote("http://127.0.0.1:" + port + "/");
  url.found = true;
  Line(out, 6, "url", url);

  // Credentials: the cookie file, or a password kept out of this file.
  auto user = conf_value("rpcuser");
  auto password = conf_value("rpcpassword");
  if (user && password) {
    std::string raw_arg;  // the unexpanded -rpcpassword=${VAR} names the variable holding it
    for (const auto& a : v.unit->exec_start) {
      for (const char* pre : {"-rpcpassword=${", "--rpcpassword=${"}) {
        if (StartsWith(a, pre) && EndsWith(a, "}"))
          raw_arg = a.substr(std::string(pre).size(), a.size() - strlen(pre) - 1);
      }
    }
    bool from_env_file = !raw_arg.empty() && v.where.count(raw_arg) && v.where.at(raw_arg)[0] == '/';
    // vigil needs user and password together: without a usable password both stay commented out.
    Line(out, 6, "user", {Quote(user->first), user->second, from_env_file});
    if (from_env_file) {
      Line(out, 6, "password", {QuoteVariable(raw_arg), "read from " + v.where.at(raw_arg) + " (env_files)", true});
      if (std::find(env_files_.begin(), env_files_.end(), v.where.at(raw_arg)) == env_files_.end())
        env_files_.push_back(v.where.at(raw_arg));
    } else {
      Line(out, 6, "password_file",
           {"/etc/vigil/bitcoind-rpc.pass",
            "not found: rpcpassword is set inline (" + password->second +
                "); vigil never copies a secret: put it in a file only vigil can read and point here",
            false});
    }
    return;
  }
  if (conf_value("rpcauth")) {
    Note(v.unit->name +
         ": bitcoin.conf has rpcauth= (a hash): vigil cannot derive a password from it; the cookie "
         "file is used");
  }
  Value cookie;
  if (auto c = conf_value("rpccookiefile")) {
    cookie.text = Quote(Abs(c->first, netdir));
    cookie.why = c->second;
  } else {
    cookie.text = Quote(netdir + "/.cookie");
    cookie.why = "<datadir>/.cookie; datadir: " + datadir_why;
  }
  cookie.found = true;
  Line(out, 6, "cookie_file", cookie);
}

void Renderer::Titan(std::string& out, const UnitView& v) {
  Value url;
  std::string host = "127.0.0.1", port = "3030";
  std::optional<std::pair<std::string, std::string>> listen;
  if (auto f = Flag(v, {"--http-listen", "--http-addr", "--http-address"})) {
    listen = f;
  } else {
    for (const char* key : {"TITAN_HTTP_LISTEN", "HTTP_LISTEN", "TITAN_HTTP_PORT", "HTTP_PORT"}) {
      if (auto it = v.env.find(key); it != v.env.end()) {
        listen = std::pair{it->second, std::string(key) + " in " + v.where.at(key)};
        break;
      }
    }
  }
  if (listen) {
    if (auto hp = HostPort(listen->first)) {
      host = hp->first;
      port = hp->second;
      url.why = listen->second;
    } else {
      url.why = "titan's default: " + listen->second + " is not HOST:PORT";
    }
  } else {
    url.why = "titan's default: no --http-listen in ExecStart= and no HTTP_LISTEN in its environment";
  }
  if (v.program != "titan") {
    Note(v.unit->name + ": ExecStart= runs " + (v.cmd.argv.empty() ? std::string("nothing") : v.cmd.argv[0]) +
         ", not titan: its options could not be read with certainty");
  }
  url.text = Quote("http://" + host + ":" + port);
  url.found = true;
  Line(out, 6, "url", url);
}

void Renderer::Validator(std::string& out, const UnitView& v) {
  std::string host = "127.0.0.1", port = "9002", why;
  std::optional<std::pair<std::string, std::string>> p;
  if (auto f = Flag(v, {"--rpc-bind-port", "--rpc-port", "--rpcport"})) {
    p = f;
  } else {
    for (const char* key : {"ARCH_RPC_BIND_PORT", "RPC_BIND_PORT", "ARCH_RPC_PORT", "RPC_PORT"}) {
      if (auto it = v.env.find(key); it != v.env.end()) {
        p = std::pair{it->second, std::string(key) + " in " + v.where.at(key)};
        break;
      }
    }
  }
  if (p) {
    if (auto ok = Port(p->first)) {
      port = *ok;
      why = p->second;
    } else {
      why = "the validator's default: " + p->second + " is not a port";
    }
  } else {
    why = "the validator's default: no --rpc-bind-port in ExecStart= and no RPC_BIND_PORT in its environment";
  }
  if (auto ip = FlagValue(v.cmd.argv, {"--rpc-bind-ip"})) {
    if (auto hp = HostPort(*ip + ":" + port)) host = hp->first;
  }
  std::string rpc = Quote("http://" + host + ":" + port + "/");
  out += "    validator:\n";
  Line(out, 6, "url", {rpc, why, true});
  out += "      references: ['${ARCH_REFERENCE_RPC:-}']   # other nodes' RPC to compare heights with; empty: none\n";
  out += "    probes:\n";
  out += "      - {name: rpc, type: jsonrpc, url: " + rpc + ", method: is_node_ready, extract: {ready: ''}}\n";
  out += "    processes: {expect: 1}\n";

  // Its log file: the unit's stdout file, a log directory option or variable.
  Value path;
  if (!v.stdout_file.empty()) {
    path = {Quote(v.stdout_file), "the unit's standard output", true};
  } else if (auto f = FlagValue(v.cmd.argv, {"--log-file"})) {
    path = {Quote(Abs(*f, v.workdir)), "--log-file in ExecStart=", true};
  } else if (auto d = FlagValue(v.cmd.argv, {"--log-dir", "--logs-dir"})) {
    path = {Quote(Abs(*d, v.workdir) + "/validator.log"), "--log-dir in ExecStart=", true};
  } else {
    for (const char* key : {"ARCH_LOG_DIR", "VALIDATOR_LOG_DIR", "LOG_DIR"}) {
      if (auto it = v.env.find(key); it != v.env.end() && !it->second.empty()) {
        path = {Quote(Abs(it->second, v.workdir) + "/validator.log"), std::string(key) + " in " + v.where.at(key),
                true};
        break;
      }
    }
  }
  if (!path.found) {
    path = {Quote(host_.home + "/logs/validator.log"),
            "not found: no StandardOutput=append:/file: in " +
                (v.unit->fragment_path.empty() ? v.unit->name : v.unit->fragment_path) +
                ", no >> redirection, --log-file or --log-dir in ExecStart= and no LOG_DIR in its environment "
                "(or follow the journal: journal_unit: " +
                v.unit->name + ")",
            false};
  }
  if (!path.found) Note(v.unit->name + ": log file " + path.why);
  out += path.found ? "    logs:\n" : "    # logs:\n";
  std::string c = path.found ? "" : "# ";
  out += "    " + c + "  - path: " + path.text + "   # " + OneLine(path.why) + "\n";
  out += "    " + c + "    counters: [{name: errors, match: 'ERROR'}, {name: warnings, match: 'WARN'}]\n";
  out += "    " + c + "    gauges: [{name: slot, match: 'Processing slot (\\d+)'}]\n";
  out += "    " + c +
         "    states: [{name: titan_connected, on: 'Connected to server at titan', off: 'Detected disconnection'}]\n";
}

Output Renderer::Run() {
  std::string services;
  struct Role {
    const char* name;
    const char* depends_on;
  };
  std::set<std::string> present;
  for (const Role& role : {Role{"bitcoind", nullptr}, Role{"titan", "bitcoind"}, Role{"validator", "titan"}}) {
    std::string unit_name = "arch-" + std::string(role.name) + "@" + host_.user + ".service";
    const UnitFacts* u = FindUnit(role.name);
    if (u == nullptr || u->load_state != "loaded") {
      std::string why =
          u == nullptr || u->load_state == "not-found"
              ? "not found: no unit " + unit_name + " on the " + (host_.user_bus ? "user" : "system") + " bus"
              : "not used: " + unit_name + " is " + u->load_state +
                    (u->fragment_path.empty() ? "" : " in " + u->fragment_path) +
                    (u->load_error.empty() ? "" : ": " + u->load_error) + " (`systemd-analyze verify` names the line)";
      Note(why);
      services += "  # " + std::string(role.name) + ":\n  #   unit: " + unit_name + "   # " + OneLine(why) + "\n";
      continue;
    }
    present.insert(role.name);
    UnitView v = Inspect(*u);
    services += "  " + std::string(role.name) + ":\n    unit: " + Quote(unit_name) + "\n";
    if (role.depends_on != nullptr) {
      if (present.count(role.depends_on)) {
        services += "    depends_on: [" + std::string(role.depends_on) + "]\n";
      } else {
        services += "    # depends_on: [" + std::string(role.depends_on) + "]   # not found: no " + role.depends_on +
                    " service above\n";
      }
    }
    if (std::string(role.name) == "bitcoind") {
      services += "    bitcoind:\n";
      Value chain_dir;
      Bitcoind(services, v, chain_dir);
      Line(services, 4, "data_dirs", chain_dir);  // `vigil capacity` names the chain
      services += "    processes: {expect: 1}\n";
    } else if (std::string(role.name) == "titan") {
      services += "    titan:\n";
      Titan(services, v);
      services += "    processes: {expect: 1}\n";
    } else {
      Validator(services, v);
    }
    services += "    # recovery: {restart: {}}   # budgeted, verified restarts through systemd: docs/recovery.md\n";
  }
  // Other arch-*@USER units: watched, without a module.
  std::vector<const UnitFacts*> others;
  for (const auto& u : host_.units) {
    bool known = false;
    for (const char* r : {"bitcoind", "titan", "validator"}) known = known || FindUnit(r) == &u;
    if (!known && u.load_state == "loaded") others.push_back(&u);
  }
  std::sort(others.begin(), others.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (const UnitFacts* u : others) {
    std::string name = u->name.substr(5, u->name.find('@') - 5);
    std::replace_if(
        name.begin(), name.end(), [](char ch) { return !IsVarChar(ch) && ch != '-' && ch != '.'; }, '_');
    if (name.empty() || present.count(name)) continue;
    present.insert(name);
    services += "  " + name + ":   # no module for it: its unit state only\n    unit: " + Quote(u->name) + "\n";
  }

  std::string out;
  out += "# vigil configuration for the Arch validator stack of " + host_.user +
         ", written by `vigil init --preset arch-validator`.\n";
  out += "# Check it with `vigil check config FILE`; every key is in docs/configuration.md.\n";
  out += "# What init could not find is commented out with the reason; defaults it assumed say so.\n\n";
  if (!env_files_.empty()) {
    out += "env_files:   # secrets stay in these files; the config names them as ${VAR}\n";
    for (const auto& f : env_files_) out += "  - " + Quote(f) + "\n";
    out += "\n";
  }
  out += "global:\n  listen: 127.0.0.1:9810\n";
  out += host_.user_bus ? "  data_dir: '${HOME}/.local/state/vigil'\n" : "  data_dir: /var/lib/vigil\n";
  out += "  scrape_interval: 15s\n\n";
  out += "systemd:\n";
  out += host_.user_bus ? "  bus: user                        # the units run under `systemd --user`\n\n"
                        : "  bus: system                      # the units run under the system manager\n\n";
  out += "services:\n" + services + "\n";
  out += "rule_files: [builtin:host, builtin:validator]   # docs/rules.md\n";
  return Output{out, notes_};
}

}  // namespace

Output RenderArchValidator(const Host& host, const FileReader& read) { return Renderer(host, read).Run(); }

}  // namespace vigil::init
