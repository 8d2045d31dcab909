#include "template/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>

#include "base/strings.h"
#include "base/time.h"

namespace vigil::tmpl {

Value Value::Bool(bool v) {
  Value x;
  x.kind = Kind::kBool;
  x.b = v;
  return x;
}
Value Value::Int(int64_t v) {
  Value x;
  x.kind = Kind::kInt;
  x.i = v;
  return x;
}
Value Value::Float(double v) {
  Value x;
  x.kind = Kind::kFloat;
  x.f = v;
  return x;
}
Value Value::String(std::string v) {
  Value x;
  x.kind = Kind::kString;
  x.s = std::move(v);
  return x;
}
Value Value::Map(std::map<std::string, Value> m) {
  Value x;
  x.kind = Kind::kMap;
  x.fields = std::make_shared<const std::map<std::string, Value>>(std::move(m));
  return x;
}
Value Value::Struct(std::map<std::string, Value> m) {
  Value x = Map(std::move(m));
  x.kind = Kind::kStruct;
  return x;
}
Value Value::List(std::vector<Value> l) {
  Value x;
  x.kind = Kind::kList;
  x.list = std::make_shared<const std::vector<Value>>(std::move(l));
  return x;
}
Value Value::List(std::vector<Value> l, std::map<std::string, Value> fields) {
  Value x = List(std::move(l));
  x.fields = std::make_shared<const std::map<std::string, Value>>(std::move(fields));
  return x;
}
Value Value::FromLabels(const Labels& labels) {
  std::map<std::string, Value> m;
  for (const auto& l : labels) m.emplace(l.name, String(l.value));
  return Map(std::move(m));
}

Value MakeAlertData(const AlertData& data) {
  return Value::Struct({{"Labels", Value::FromLabels(data.labels)},
                        {"ExternalLabels", Value::FromLabels(data.external_labels)},
                        {"ExternalURL", Value::String(data.external_url)},
                        {"Value", Value::Float(data.value)}});
}

// ---------------------------------------------------------------------------
// Syntax tree.

struct Pipe;

struct Arg {
  enum class Kind { kDot, kField, kVar, kFunc, kLiteral, kPipe };
  Kind kind = Kind::kDot;
  std::string name;                // kVar ("$x"), kFunc
  std::vector<std::string> chain;  // fields after the operand: .a.b
  Value literal;                   // kLiteral
  std::shared_ptr<const Pipe> pipe;
  std::string text;  // as written, for error messages
};

struct Command {
  std::vector<Arg> args;
  int line = 0, col = 0;
};

struct Pipe {
  std::vector<std::string> decl;  // variables declared or assigned
  bool assign = false;            // `=` rather than `:=`
  std::vector<Command> cmds;
  int line = 0, col = 0;
};

struct Node {
  enum class Kind { kList, kText, kAction, kIf, kRange, kWith, kTemplate };
  Kind kind = Kind::kList;
  std::string text;       // kText; kTemplate: the name called
  int line = 0, col = 0;  // kTemplate: where the call is, for its errors
  std::vector<std::shared_ptr<const Node>> list;
  std::shared_ptr<const Pipe> pipe;
  std::shared_ptr<const Node> body, else_body;
};

namespace {

struct TemplateError {
  std::string message;  // "LINE:COL: reason" once the failing command is known
  int line = 0, col = 0;
  std::string reason;   // without the position
  std::string context;  // the failing command as written, for Prometheus-style messages
};

[[noreturn]] void Fail(std::string message) { throw TemplateError{std::move(message)}; }

std::string TypeName(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil: return "<nil>";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float64";
    case Value::Kind::kString: return "string";
    case Value::Kind::kMap: return "map[string]string";
    case Value::Kind::kStruct: return "struct";
    case Value::Kind::kList: return "[]interface {}";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Lexing of one action's text.

struct Token {
  enum class Kind {
    kIdent,
    kField,
    kVar,
    kString,
    kNumber,
    kChar,
    kPipe,
    kLParen,
    kRParen,
    kDeclare,
    kAssign,
    kComma,
    kEnd
  };
  Kind kind = Kind::kEnd;
  std::string text;  // kString: the unquoted value
  bool space_before = false;
  int line = 0, col = 0;
};

bool IsFunction(const std::string& name);

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Parser {
 public:
  Parser(std::string_view text, const std::vector<std::string>& predefined) : src_(text) {
    scopes_.push_back({"$"});
    for (const auto& v : predefined) scopes_.back().push_back(v);
  }

  std::shared_ptr<const Node> Parse() {
    std::string stop;
    auto root = ParseList(&stop);
    if (!stop.empty()) Fail(Where(last_action_line_, last_action_col_) + "unexpected {{" + stop + "}}");
    return root;
  }
  // The {{define "name"}} blocks met by Parse().
  const Definitions& definitions() const { return defines_; }

 private:
  std::string Where(int line, int col) const { return std::to_string(line) + ":" + std::to_string(col) + ": "; }
  // Offsets are asked for in mostly increasing order: resume from the last one.
  std::pair<int, int> LineCol(size_t off) const {
    if (off < lc_off_) lc_off_ = 0, lc_line_ = 1, lc_col_ = 1;
    for (; lc_off_ < off && lc_off_ < src_.size(); ++lc_off_) {
      if (src_[lc_off_] == '\n') {
        ++lc_line_;
        lc_col_ = 1;
      } else {
        ++lc_col_;
      }
    }
    return {lc_line_, lc_col_};
  }
  mutable size_t lc_off_ = 0;
  mutable int lc_line_ = 1, lc_col_ = 1;

  // After a `-}}`, the following text loses its leading white space.
  void TrimLeftIfPending(std::string* text) {
    if (!trim_right_pending_) return;
    size_t k = 0;
    while (k < text->size() && IsSpace((*text)[k])) ++k;
    text->erase(0, k);
    trim_right_pending_ = false;
  }

  // Reads text up to the next action; sets tokens_ to the action's tokens.
  // Returns false at the end of input.
  bool NextAction(std::string* text) {
    size_t open = src_.find("{{", pos_);
    if (open == std::string_view::npos) {
      *text = std::string(src_.substr(pos_));
      pos_ = src_.size();
      TrimLeftIfPending(text);
      return false;
    }
    std::string_view before = src_.substr(pos_, open - pos_);
    size_t p = open + 2;
    bool trim_left = p + 1 < src_.size() && src_[p] == '-' && IsSpace(src_[p + 1]);
    if (trim_left) {
      while (!before.empty() && IsSpace(before.back())) before.remove_suffix(1);
      p += 2;
    }
    *text = std::string(before);
    TrimLeftIfPending(text);
    auto [line, col] = LineCol(open);
    last_action_line_ = line;
    last_action_col_ = col;
    // A comment: {{/* … */}} with optional trim markers.
    size_t q = p;
    while (q < src_.size() && IsSpace(src_[q])) ++q;
    if (src_.substr(q, 2) == "/*") {
      size_t close = src_.find("*/", q + 2);
      if (close == std::string_view::npos) Fail(Where(line, col) + "unclosed comment");
      size_t r = close + 2;
      bool trim_right = false;
      if (src_.substr(r, 4) == " -}}") {
        trim_right = true;
        r += 4;
      } else if (src_.substr(r, 2) == "}}") {
        r += 2;
      } else {
        Fail(Where(line, col) + "comment ends before closing delimiter");
      }
      pos_ = r;
      trim_right_pending_ = trim_right;
      tokens_.clear();
      tokens_.push_back({Token::Kind::kEnd, "comment", false, line, col});
      tok_ = 0;
      return true;
    }
    Lex(p, line, col);
    return true;
  }

  void Lex(size_t p, int line, int col) {
    tokens_.clear();
    tok_ = 0;
    bool space = false;
    size_t end_pos = p;
    while (true) {
      if (p >= src_.size()) Fail(Where(line, col) + "unclosed action");
      char c = src_[p];
      auto [tl, tc] = LineCol(p);
      if (c == ' ' && src_.substr(p, 4) == " -}}") {
        end_pos = p + 1;
        pos_ = p + 4;
        trim_right_pending_ = true;
        break;
      }
      if (src_.substr(p, 2) == "}}") {
        end_pos = p;
        pos_ = p + 2;
        break;
      }
      if (IsSpace(c)) {
        space = true;
        ++p;
        continue;
      }
      Token t;
      t.space_before = space;
      t.line = tl;
      t.col = tc;
      space = false;
      size_t start = p;
      if (c == '|') {
        t.kind = Token::Kind::kPipe;
        ++p;
      } else if (c == '(') {
        t.kind = Token::Kind::kLParen;
        ++p;
      } else if (c == ')') {
        t.kind = Token::Kind::kRParen;
        ++p;
      } else if (c == ',') {
        t.kind = Token::Kind::kComma;
        ++p;
      } else if (c == ':' && p + 1 < src_.size() && src_[p + 1] == '=') {
        t.kind = Token::Kind::kDeclare;
        p += 2;
      } else if (c == '=') {
        t.kind = Token::Kind::kAssign;
        ++p;
      } else if (c == '$') {
        t.kind = Token::Kind::kVar;
        ++p;
        while (p < src_.size() && IsAlnum(src_[p])) ++p;
      } else if (c == '.' && !(p + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p + 1])))) {
        t.kind = Token::Kind::kField;
        ++p;
        while (p < src_.size() && IsAlnum(src_[p])) ++p;
      } else if (c == '"') {
        t.kind = Token::Kind::kString;
        ++p;
        std::string value;
        while (true) {
          if (p >= src_.size() || src_[p] == '\n') Fail(Where(tl, tc) + "unterminated quoted string");
          char d = src_[p++];
          if (d == '"') break;
          if (d != '\\') {
            value += d;
            continue;
          }
          if (p >= src_.size()) Fail(Where(tl, tc) + "unterminated quoted string");
          char e = src_[p++];
          switch (e) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            case '\\': value += '\\'; break;
            case '"': value += '"'; break;
            case '\'': value += '\''; break;
            case 'a': value += '\a'; break;
            case 'b': value += '\b'; break;
            case 'f': value += '\f'; break;
            case 'v': value += '\v'; break;
            default: Fail(Where(tl, tc) + "invalid syntax in quoted string: unknown escape \\" + std::string(1, e));
          }
        }
        t.text = std::move(value);
        tokens_.push_back(std::move(t));
        continue;
      } else if (c == '`') {
        t.kind = Token::Kind::kString;
        size_t close = src_.find('`', p + 1);
        if (close == std::string_view::npos) Fail(Where(tl, tc) + "unterminated raw quoted string");
        t.text = std::string(src_.substr(p + 1, close - p - 1));
        p = close + 1;
        tokens_.push_back(std::move(t));
        continue;
      } else if (c == '\'') {
        t.kind = Token::Kind::kChar;
        if (p + 2 < src_.size() && src_[p + 2] == '\'') {
          t.text = std::to_string(static_cast<unsigned char>(src_[p + 1]));
          p += 3;
        } else {
          Fail(Where(tl, tc) + "unsupported character constant");
        }
        tokens_.push_back(std::move(t));
        continue;
      } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
        t.kind = Token::Kind::kNumber;
        ++p;
        while (p < src_.size() &&
               (IsAlnum(src_[p]) || src_[p] == '.' ||
                ((src_[p] == '+' || src_[p] == '-') &&
                 (src_[p - 1] == 'e' || src_[p - 1] == 'E' || src_[p - 1] == 'p' || src_[p - 1] == 'P')))) {
          ++p;
        }
      } else if (IsAlnum(c)) {
        t.kind = Token::Kind::kIdent;
        while (p < src_.size() && IsAlnum(src_[p])) ++p;
      } else {
        Fail(Where(tl, tc) + "unexpected \"" + std::string(1, c) + "\" in command");
      }
      t.text = std::string(src_.substr(start, p - start));
      tokens_.push_back(std::move(t));
    }
    auto [el, ec] = LineCol(end_pos);
    tokens_.push_back({Token::Kind::kEnd, "", space, el, ec});
  }

  const Token& Peek() const { return tokens_[tok_]; }
  const Token& Take() { return tokens_[tok_ < tokens_.size() - 1 ? tok_++ : tok_]; }

  // A list of nodes up to {{end}} or {{else…}}; `stop` receives the keyword
  // that ended it ("" at end of input).
  std::shared_ptr<const Node> ParseList(std::string* stop) {
    auto list = std::make_shared<Node>();
    list->kind = Node::Kind::kList;
    while (true) {
      std::string text;
      bool more = NextAction(&text);
      if (!text.empty()) {
        auto n = std::make_shared<Node>();
        n->kind = Node::Kind::kText;
        n->text = std::move(text);
        list->list.push_back(n);
      }
      if (!more) {
        stop->clear();
        return list;
      }
      const Token& first = Peek();
      if (first.kind == Token::Kind::kEnd && first.text == "comment") continue;
      if (first.kind == Token::Kind::kEnd) Fail(Where(first.line, first.col) + "missing value for command");
      if (first.kind == Token::Kind::kIdent) {
        const std::string kw = first.text;
        if (kw == "end" || kw == "else") {
          Take();
          *stop = kw;
          return list;
        }
        if (kw == "if" || kw == "range" || kw == "with") {
          Take();
          list->list.push_back(ParseControl(kw));
          continue;
        }
        if (kw == "define") {
          Take();
          ParseDefine(first.line, first.col);
          continue;
        }
        if (kw == "template") {
          int line = first.line, col = first.col;
          Take();
          list->list.push_back(ParseTemplateCall(line, col));
          continue;
        }
        if (kw == "block" || kw == "break" || kw == "continue") {
          Fail(Where(first.line, first.col) + "{{" + kw + "}} is not supported");
        }
      }
      auto n = std::make_shared<Node>();
      n->kind = Node::Kind::kAction;
      n->pipe = ParsePipeline(true, false);
      ExpectEnd();
      list->list.push_back(n);
    }
  }

  // {{define "name"}}…{{end}}, at the top level only (as Go): a template of
  // its own, which sees only `$` (its dot).
  void ParseDefine(int line, int col) {
    if (depth_ > 0 || in_define_) Fail(Where(line, col) + "{{define}} must be at the top level");
    int action_line = last_action_line_, action_col = last_action_col_;
    const Token& name = Take();
    if (name.kind != Token::Kind::kString) Fail(Where(name.line, name.col) + "{{define}} needs a quoted name");
    std::string defined = name.text;
    ExpectEnd();
    auto outer = std::move(scopes_);
    scopes_ = {{"$"}};
    in_define_ = true;
    std::string stop;
    auto body = ParseList(&stop);
    in_define_ = false;
    scopes_ = std::move(outer);
    if (stop != "end") Fail(Where(action_line, action_col) + "unexpected EOF: {{define}} without {{end}}");
    defines_[defined] = body;
  }

  // {{template "name"}} or {{template "name" pipeline}}; the name is looked up when run.
  std::shared_ptr<const Node> ParseTemplateCall(int line, int col) {
    const Token name = Take();  // a copy: tokens_ grows while the pipeline is parsed
    if (name.kind != Token::Kind::kString) Fail(Where(name.line, name.col) + "{{template}} needs a quoted name");
    auto n = std::make_shared<Node>();
    n->kind = Node::Kind::kTemplate;
    n->text = name.text;
    n->line = line;
    n->col = col;
    if (Peek().kind != Token::Kind::kEnd) n->pipe = ParsePipeline(false, false);
    ExpectEnd();
    return n;
  }

  void ExpectEnd() {
    const Token& t = Peek();
    if (t.kind != Token::Kind::kEnd) Fail(Where(t.line, t.col) + "unexpected \"" + t.text + "\" in command");
  }

  std::shared_ptr<const Node> ParseControl(const std::string kw) {  // a copy: tokens_ changes below
    int line = last_action_line_, col = last_action_col_;
    struct DepthGuard {
      int& d;
      explicit DepthGuard(int& depth) : d(depth) { ++d; }
      ~DepthGuard() { --d; }
    } guard(depth_);
    if (depth_ > kMaxDepth) Fail(Where(line, col) + "nesting deeper than 100 levels");
    auto n = std::make_shared<Node>();
    n->kind = kw == "if" ? Node::Kind::kIf : kw == "range" ? Node::Kind::kRange : Node::Kind::kWith;
    scopes_.emplace_back();
    n->pipe = ParsePipeline(true, kw == "range");
    ExpectEnd();
    std::string stop;
    n->body = ParseList(&stop);
    if (stop.empty()) Fail(Where(line, col) + "unexpected EOF: {{" + kw + "}} without {{end}}");
    scopes_.pop_back();
    if (stop == "else") {
      // {{else if …}} / {{else with …}}: a nested control whose {{end}} ends this one too.
      const Token& t = Peek();
      if (t.kind == Token::Kind::kIdent && (t.text == "if" || t.text == "with") && kw != "range") {
        std::string nested = t.text;
        Take();
        auto list = std::make_shared<Node>();
        list->kind = Node::Kind::kList;
        list->list.push_back(ParseControl(nested));
        n->else_body = list;
        return n;
      }
      ExpectEnd();
      scopes_.emplace_back();
      n->else_body = ParseList(&stop);
      scopes_.pop_back();
      if (stop != "end") Fail(Where(line, col) + "expected {{end}} after {{else}}");
    }
    return n;
  }

  bool Defined(const std::string& name) const {
    for (const auto& scope : scopes_) {
      if (std::find(scope.begin(), scope.end(), name) != scope.end()) return true;
    }
    return false;
  }

  std::shared_ptr<const Pipe> ParsePipeline(bool allow_decl, bool range) {
    struct DepthGuard {
      int& d;
      explicit DepthGuard(int& depth) : d(depth) { ++d; }
      ~DepthGuard() { --d; }
    } guard(depth_);
    if (depth_ > kMaxDepth) Fail(Where(Peek().line, Peek().col) + "nesting deeper than 100 levels");
    auto pipe = std::make_shared<Pipe>();
    pipe->line = Peek().line;
    pipe->col = Peek().col;
    // Declarations: `$x :=`, `$x =`, and for range `$k, $v :=`.
    if (allow_decl && Peek().kind == Token::Kind::kVar) {
      size_t save = tok_;
      std::vector<std::string> vars{Take().text};
      if (range && Peek().kind == Token::Kind::kComma) {
        Take();
        if (Peek().kind == Token::Kind::kVar) vars.push_back(Take().text);
      }
      if (Peek().kind == Token::Kind::kDeclare || Peek().kind == Token::Kind::kAssign) {
        pipe->assign = Take().kind == Token::Kind::kAssign;
        for (const auto& v : vars) {
          if (pipe->assign) {
            if (!Defined(v)) Fail(Where(pipe->line, pipe->col) + "undefined variable \"" + v + "\"");
          } else {
            scopes_.back().push_back(v);
          }
        }
        pipe->decl = std::move(vars);
      } else {
        tok_ = save;
      }
    }
    while (true) {
      Command cmd;
      cmd.line = Peek().line;
      cmd.col = Peek().col;
      while (true) {
        const Token& t = Peek();
        if (t.kind == Token::Kind::kEnd || t.kind == Token::Kind::kPipe || t.kind == Token::Kind::kRParen) break;
        if (!cmd.args.empty() && !t.space_before && t.kind != Token::Kind::kLParen) {
          Fail(Where(t.line, t.col) + "missing space before \"" + t.text + "\"");
        }
        cmd.args.push_back(ParseOperand());
      }
      if (cmd.args.empty()) Fail(Where(Peek().line, Peek().col) + "missing value for command");
      pipe->cmds.push_back(std::move(cmd));
      if (Peek().kind != Token::Kind::kPipe) break;
      Take();
    }
    for (size_t i = 1; i < pipe->cmds.size(); ++i) {
      const Arg& a = pipe->cmds[i].args[0];
      if (a.kind == Arg::Kind::kLiteral) {
        Fail(Where(pipe->cmds[i].line, pipe->cmds[i].col) + "non executable command in pipeline stage " +
             std::to_string(i + 1));
      }
    }
    return pipe;
  }

  Arg ParseOperand() {
    const Token t = Take();
    Arg a;
    a.text = t.text;
    switch (t.kind) {
      case Token::Kind::kField:
        if (t.text == ".") {
          a.kind = Arg::Kind::kDot;
        } else {
          a.kind = Arg::Kind::kField;
          a.chain.push_back(t.text.substr(1));
        }
        break;
      case Token::Kind::kVar:
        if (!Defined(t.text)) Fail(Where(t.line, t.col) + "undefined variable \"" + t.text + "\"");
        a.kind = Arg::Kind::kVar;
        a.name = t.text;
        break;
      case Token::Kind::kString:
        a.kind = Arg::Kind::kLiteral;
        a.literal = Value::String(t.text);
        a.text = "\"" + t.text + "\"";
        break;
      case Token::Kind::kChar:
        a.kind = Arg::Kind::kLiteral;
        a.literal = Value::Int(std::stoll(t.text));
        break;
      case Token::Kind::kNumber: {
        a.kind = Arg::Kind::kLiteral;
        bool is_float = t.text.find_first_of(".eE") != std::string::npos && t.text.find("0x") == std::string::npos &&
                        t.text.find("0X") == std::string::npos;
        if (!is_float) {
          std::optional<int64_t> v = ParseInt64(t.text[0] == '+' ? t.text.substr(1) : t.text);
          if (!v) {
            char* end = nullptr;
            errno = 0;
            long long x = std::strtoll(t.text.c_str(), &end, 0);
            if (*end != '\0' || errno != 0) Fail(Where(t.line, t.col) + "bad number syntax: \"" + t.text + "\"");
            v = x;
          }
          a.literal = Value::Int(*v);
        } else {
          std::optional<double> v = ParseDouble(t.text);
          if (!v) Fail(Where(t.line, t.col) + "bad number syntax: \"" + t.text + "\"");
          a.literal = Value::Float(*v);
        }
        break;
      }
      case Token::Kind::kIdent:
        if (t.text == "true" || t.text == "false") {
          a.kind = Arg::Kind::kLiteral;
          a.literal = Value::Bool(t.text == "true");
        } else if (t.text == "nil") {
          a.kind = Arg::Kind::kLiteral;
        } else {
          static const std::set<std::string> kKeywords = {"if",       "else",   "end",   "range", "with",
                                                          "template", "define", "block", "break", "continue"};
          if (kKeywords.count(t.text) != 0) Fail(Where(t.line, t.col) + "unexpected <" + t.text + "> in command");
          if (!IsFunction(t.text)) {
            Fail(Where(t.line, t.col) + "function \"" + t.text + "\" not defined");
          }
          a.kind = Arg::Kind::kFunc;
          a.name = t.text;
        }
        break;
      case Token::Kind::kLParen: {
        a.kind = Arg::Kind::kPipe;
        a.pipe = ParsePipeline(false, false);
        if (Peek().kind != Token::Kind::kRParen) Fail(Where(t.line, t.col) + "unclosed left paren");
        Take();
        a.text = "(…)";
        break;
      }
      default: Fail(Where(t.line, t.col) + "unexpected \"" + t.text + "\" in operand");
    }
    // Chained fields: $x.a.b, (pipe).a, .a.b
    while (Peek().kind == Token::Kind::kField && !Peek().space_before && Peek().text != ".") {
      if (a.kind == Arg::Kind::kLiteral || a.kind == Arg::Kind::kFunc) {
        Fail(Where(Peek().line, Peek().col) + "unexpected . after term \"" + a.text + "\"");
      }
      a.chain.push_back(Take().text.substr(1));
    }
    return a;
  }

  static constexpr int kMaxDepth = 100;
  int depth_ = 0;
  bool in_define_ = false;
  Definitions defines_;
  std::string_view src_;
  size_t pos_ = 0;
  bool trim_right_pending_ = false;
  std::vector<Token> tokens_;
  size_t tok_ = 0;
  int last_action_line_ = 1, last_action_col_ = 1;
  std::vector<std::vector<std::string>> scopes_;
};

// ---------------------------------------------------------------------------
// Execution.

bool Truth(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil: return false;
    case Value::Kind::kBool: return v.b;
    case Value::Kind::kInt: return v.i != 0;
    case Value::Kind::kFloat: return v.f != 0;
    case Value::Kind::kString: return !v.s.empty();
    case Value::Kind::kMap: return !v.fields->empty();
    case Value::Kind::kStruct: return true;
    case Value::Kind::kList: return !v.list->empty();
  }
  return false;
}

std::string Print(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil: return "<no value>";
    case Value::Kind::kBool: return v.b ? "true" : "false";
    case Value::Kind::kInt: return std::to_string(v.i);
    case Value::Kind::kFloat: return GoFormatFloat(v.f);
    case Value::Kind::kString: return v.s;
    case Value::Kind::kMap: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, x] : *v.fields) {
        if (!first) out += " ";
        first = false;
        out += k + ":" + Print(x);
      }
      return out + "]";
    }
    case Value::Kind::kStruct: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, x] : *v.fields) {
        if (!first) out += " ";
        first = false;
        out += Print(x);
      }
      return out + "}";
    }
    case Value::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i > 0) out += " ";
        out += Print((*v.list)[i]);
      }
      return out + "]";
    }
  }
  return "";
}

Value Field(const Value& v, const std::string& name) {
  switch (v.kind) {
    case Value::Kind::kMap: {
      auto it = v.fields->find(name);
      return it == v.fields->end() ? Value::String("") : it->second;
    }
    case Value::Kind::kStruct: {
      auto it = v.fields->find(name);
      if (it == v.fields->end()) Fail("can't evaluate field " + name + " in type " + TypeName(v));
      return it->second;
    }
    case Value::Kind::kList: {
      if (v.fields) {
        if (auto it = v.fields->find(name); it != v.fields->end()) return it->second;
      }
      Fail("can't evaluate field " + name + " in type " + TypeName(v));
    }
    case Value::Kind::kNil: Fail("nil pointer evaluating interface {}." + name);
    default: Fail("can't evaluate field " + name + " in type " + TypeName(v));
  }
}

double ToFloat(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kFloat: return v.f;
    case Value::Kind::kInt: return static_cast<double>(v.i);
    case Value::Kind::kString: {
      std::string s = v.s;
      std::string lower = s;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "inf" || lower == "+inf" || lower == "infinity" || lower == "+infinity") return INFINITY;
      if (lower == "-inf" || lower == "-infinity") return -INFINITY;
      if (lower == "nan") return NAN;
      std::optional<double> d = ParseDouble(s);
      if (!d || s.empty() || IsSpace(s.front()) || IsSpace(s.back())) {
        Fail("strconv.ParseFloat: parsing \"" + s + "\": invalid syntax");
      }
      return *d;
    }
    default: Fail("can't convert " + TypeName(v) + " to float");
  }
}

std::string ToStringArg(const Value& v, const std::string& fn) {
  if (v.kind != Value::Kind::kString) {
    Fail("wrong type for value; expected string; got " + TypeName(v) + " (in " + fn + ")");
  }
  return v.s;
}

// Go's basicKind grouping for comparisons.
int CompareKind(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kBool: return 1;
    case Value::Kind::kInt: return 2;
    case Value::Kind::kFloat: return 3;
    case Value::Kind::kString: return 4;
    default: return 0;
  }
}

bool Equal(const Value& a, const Value& b) {
  int ka = CompareKind(a), kb = CompareKind(b);
  if (ka == 0 || kb == 0) {
    if (a.kind == Value::Kind::kNil && b.kind == Value::Kind::kNil) return true;
    Fail("invalid type for comparison");
  }
  if (ka != kb) Fail("incompatible types for comparison");
  switch (a.kind) {
    case Value::Kind::kBool: return a.b == b.b;
    case Value::Kind::kInt: return a.i == b.i;
    case Value::Kind::kFloat: return a.f == b.f;
    default: return a.s == b.s;
  }
}

bool Less(const Value& a, const Value& b) {
  int ka = CompareKind(a), kb = CompareKind(b);
  if (ka == 0 || kb == 0 || ka == 1 || kb == 1) Fail("invalid type for comparison");
  if (ka != kb) Fail("incompatible types for comparison");
  switch (a.kind) {
    case Value::Kind::kInt: return a.i < b.i;
    case Value::Kind::kFloat: return a.f < b.f;
    default: return a.s < b.s;
  }
}

std::string GoQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// fmt.Sprintf for the verbs templates use: %v %s %d %f %F %e %E %g %G %x %X %q %t %%.
std::string Sprintf(const std::string& format, const std::vector<Value>& args) {
  std::string out;
  size_t argi = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    size_t start = i++;
    std::string flags;
    while (i < format.size() && std::string_view("-+# 0").find(format[i]) != std::string_view::npos)
      flags += format[i++];
    // Width and precision are capped: a template must not ask for gigabytes.
    auto number = [&](int* out) {
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
        *out = std::min(*out * 10 + (format[i++] - '0'), 1000);
      }
    };
    int width_n = 0;
    size_t width_start = i;
    number(&width_n);
    std::string width = i > width_start ? std::to_string(width_n) : "";
    int prec = -1;
    if (i < format.size() && format[i] == '.') {
      ++i;
      prec = 0;
      number(&prec);
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = format[i];
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (argi >= args.size()) {
      out += "%!" + std::string(1, verb) + "(MISSING)";
      continue;
    }
    const Value& a = args[argi++];
    std::string spec = "%" + flags + width + (prec >= 0 ? "." + std::to_string(prec) : "");
    auto bad = [&]() { return "%!" + std::string(1, verb) + "(" + TypeName(a) + "=" + Print(a) + ")"; };
    auto pad = [&](std::string s) {
      size_t w = static_cast<size_t>(width_n);
      if (s.size() >= w) return s;
      if (flags.find('-') != std::string::npos) return s + std::string(w - s.size(), ' ');
      return std::string(w - s.size(), ' ') + s;
    };
    // snprintf into a buffer of the size it asks for.
    auto cfmt = [](const std::string& spec_text, auto value) {
      int n = std::snprintf(nullptr, 0, spec_text.c_str(), value);
      if (n <= 0) return std::string();
      std::string r(static_cast<size_t>(n) + 1, '\0');
      std::snprintf(r.data(), r.size(), spec_text.c_str(), value);
      r.resize(static_cast<size_t>(n));
      return r;
    };
    switch (verb) {
      case 'v':
        if (a.kind == Value::Kind::kFloat && (prec >= 0 || !flags.empty())) {
          out += cfmt(spec + "g", a.f);
        } else {
          out += pad(Print(a));
        }
        break;
      case 's':
        if (a.kind != Value::Kind::kString) {
          out += bad();
        } else {
          out += pad(prec >= 0 ? a.s.substr(0, static_cast<size_t>(prec)) : a.s);
        }
        break;
      case 'q':
        if (a.kind != Value::Kind::kString) {
          out += bad();
        } else {
          out += pad(GoQuote(a.s));
        }
        break;
      case 't':
        if (a.kind != Value::Kind::kBool) {
          out += bad();
        } else {
          out += pad(a.b ? "true" : "false");
        }
        break;
      case 'd':
        if (a.kind != Value::Kind::kInt) {
          out += bad();
        } else {
          out += cfmt(spec + "lld", static_cast<long long>(a.i));
        }
        break;
      case 'x':
      case 'X':
        if (a.kind == Value::Kind::kInt) {
          out += cfmt(spec + "ll" + std::string(1, verb), static_cast<long long>(a.i));
        } else if (a.kind == Value::Kind::kString) {
          std::string hex;
          for (unsigned char ch : a.s) {
            hex += cfmt(verb == 'x' ? "%02x" : "%02X", static_cast<unsigned>(ch));
          }
          out += pad(hex);
        } else {
          out += bad();
        }
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        if (a.kind != Value::Kind::kFloat) {
          out += bad();
        } else if (!std::isfinite(a.f)) {
          std::string s = std::isnan(a.f) ? "NaN"
                          : a.f > 0       ? (flags.find('+') != std::string::npos ? "+Inf" : "+Inf")
                                          : "-Inf";
          out += pad(s);
        } else if ((verb == 'g' || verb == 'G') && prec < 0) {
          std::string s = GoFormatFloat(a.f);
          if (flags.find('+') != std::string::npos && a.f >= 0) s = "+" + s;
          out += pad(s);
        } else {
          out += cfmt(spec + std::string(1, verb), a.f);
        }
        break;
      default: out += "%!" + std::string(1, verb) + "(" + TypeName(a) + "=" + Print(a) + ")";
    }
    (void)start;
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      if (k > argi) out += ", ";
      out += TypeName(args[k]) + "=" + Print(args[k]);
    }
    out += ")";
  }
  return out;
}

std::string Title(const std::string& s) {
  std::string out = s;
  bool prev_letter = false;
  for (auto& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    bool letter = std::isalnum(u) || c == '_' || u >= 0x80;
    if (letter && !prev_letter) c = static_cast<char>(std::toupper(u));
    prev_letter = letter;
  }
  return out;
}

// net.SplitHostPort, loosely: "host:port", "[v6]:port".
bool SplitHostPort(const std::string& s, std::string* host, std::string* port) {
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    *host = s.substr(1, close - 1);
    *port = s.substr(close + 2);
    return true;
  }
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || s.find(':') != colon) return false;
  *host = s.substr(0, colon);
  *port = s.substr(colon + 1);
  return true;
}

using Function = std::function<Value(const std::vector<Value>&)>;

void Arity(const std::string& name, const std::vector<Value>& args, size_t want) {
  if (args.size() != want) {
    Fail("wrong number of args for " + name + ": want " + std::to_string(want) + " got " + std::to_string(args.size()));
  }
}

// The query function of the alert template running on this thread; set
// around one expansion by ExpandAlert/ExecuteAlert.
thread_local const QueryFunction* current_query = nullptr;

struct QueryScope {
  explicit QueryScope(const QueryFunction& q) : saved(current_query) { current_query = q ? &q : nullptr; }
  ~QueryScope() { current_query = saved; }
  const QueryFunction* saved;
};

const std::map<std::string, Function>& Functions() {
  static const std::map<std::string, Function> kFunctions = [] {
    std::map<std::string, Function> f;
    auto unary_float = [&f](const std::string& name, std::string (*fn)(double)) {
      f[name] = [name, fn](const std::vector<Value>& a) {
        Arity(name, a, 1);
        return Value::String(fn(ToFloat(a[0])));
      };
    };
    unary_float("humanize", Humanize);
    unary_float("humanize1024", Humanize1024);
    unary_float("humanizeDuration", HumanizeDuration);
    unary_float("humanizePercentage", HumanizePercentage);
    f["humanizeTimestamp"] = [](const std::vector<Value>& a) {
      Arity("humanizeTimestamp", a, 1);
      double v = ToFloat(a[0]);
      if (std::isfinite(v) && (v * 1e9 >= 9.223372036854775807e18 || v * 1e9 <= -9.223372036854775807e18)) {
        Fail(GoFormatFloat(v) + " cannot be represented as a nanoseconds timestamp since it overflows int64");
      }
      return Value::String(HumanizeTimestamp(v));
    };
    f["toUpper"] = [](const std::vector<Value>& a) {
      Arity("toUpper", a, 1);
      std::string s = ToStringArg(a[0], "toUpper");
      for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return Value::String(s);
    };
    f["toLower"] = [](const std::vector<Value>& a) {
      Arity("toLower", a, 1);
      std::string s = ToStringArg(a[0], "toLower");
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return Value::String(s);
    };
    f["title"] = [](const std::vector<Value>& a) {
      Arity("title", a, 1);
      return Value::String(Title(ToStringArg(a[0], "title")));
    };
    f["safeHtml"] = [](const std::vector<Value>& a) {
      Arity("safeHtml", a, 1);
      return Value::String(ToStringArg(a[0], "safeHtml"));
    };
    // Alertmanager's: `{{ .Values | join ", " }}` is strings.Join(list, sep).
    f["join"] = [](const std::vector<Value>& a) {
      Arity("join", a, 2);
      if (a[1].kind != Value::Kind::kList) Fail("error calling join: expected a list, got " + TypeName(a[1]));
      std::string sep = ToStringArg(a[0], "join"), out;
      for (size_t i = 0; i < a[1].list->size(); ++i) out += (i ? sep : "") + ToStringArg((*a[1].list)[i], "join");
      return Value::String(out);
    };
    f["trimSpace"] = [](const std::vector<Value>& a) {
      Arity("trimSpace", a, 1);
      std::string s = ToStringArg(a[0], "trimSpace");
      size_t b = 0, e = s.size();
      while (b < e && IsSpace(s[b])) ++b;
      while (e > b && IsSpace(s[e - 1])) --e;
      return Value::String(s.substr(b, e - b));
    };
    f["match"] = [](const std::vector<Value>& a) {
      Arity("match", a, 2);
      RE2 re(ToStringArg(a[0], "match"), RE2::Quiet);
      if (!re.ok()) Fail("error calling match: error parsing regexp: " + re.error());
      return Value::Bool(RE2::PartialMatch(ToStringArg(a[1], "match"), re));
    };
    f["reReplaceAll"] = [](const std::vector<Value>& a) {
      Arity("reReplaceAll", a, 3);
      RE2 re(ToStringArg(a[0], "reReplaceAll"), RE2::Quiet);
      if (!re.ok()) Fail("error calling reReplaceAll: error parsing regexp: " + re.error());
      // Go's $1 / ${1} become RE2's \1.
      std::string repl_go = ToStringArg(a[1], "reReplaceAll"), repl;
      for (size_t i = 0; i < repl_go.size(); ++i) {
        char c = repl_go[i];
        if (c == '\\') {
          repl += "\\\\";
        } else if (c == '$' && i + 1 < repl_go.size() && repl_go[i + 1] == '$') {
          repl += '$';
          ++i;
        } else if (c == '$' && i + 1 < repl_go.size() && std::isdigit(static_cast<unsigned char>(repl_go[i + 1]))) {
          repl += '\\';
          repl += repl_go[++i];
        } else if (c == '$' && i + 3 < repl_go.size() && repl_go[i + 1] == '{' &&
                   std::isdigit(static_cast<unsigned char>(repl_go[i + 2])) && repl_go[i + 3] == '}') {
          repl += '\\';
          repl += repl_go[i + 2];
          i += 3;
        } else {
          repl += c;
        }
      }
      std::string text = ToStringArg(a[2], "reReplaceAll");
      RE2::GlobalReplace(&text, re, repl);
      return Value::String(text);
    };
    f["stripPort"] = [](const std::vector<Value>& a) {
      Arity("stripPort", a, 1);
      std::string s = ToStringArg(a[0], "stripPort"), host, port;
      return Value::String(SplitHostPort(s, &host, &port) ? host : s);
    };
    f["stripDomain"] = [](const std::vector<Value>& a) {
      Arity("stripDomain", a, 1);
      std::string s = ToStringArg(a[0], "stripDomain"), host, port;
      if (!SplitHostPort(s, &host, &port)) {
        host = s;
        port.clear();
      }
      bool ip = host.find(':') != std::string::npos ||
                (!host.empty() && host.find_first_not_of("0123456789.") == std::string::npos);
      if (ip) return Value::String(s);
      host = host.substr(0, host.find('.'));
      if (!port.empty()) return Value::String(host + ":" + port);
      return Value::String(host);
    };
    f["parseDuration"] = [](const std::vector<Value>& a) {
      Arity("parseDuration", a, 1);
      Result<Duration> d = ParseDuration(ToStringArg(a[0], "parseDuration"));
      if (!d.ok()) Fail("error calling parseDuration: " + d.status().message());
      return Value::Float(static_cast<double>(d->count()) / 1000);
    };
    f["not"] = [](const std::vector<Value>& a) {
      Arity("not", a, 1);
      return Value::Bool(!Truth(a[0]));
    };
    f["and"] = [](const std::vector<Value>& a) {
      if (a.empty()) Fail("wrong number of args for and: want at least 1 got 0");
      for (const auto& v : a) {
        if (!Truth(v)) return v;
      }
      return a.back();
    };
    f["or"] = [](const std::vector<Value>& a) {
      if (a.empty()) Fail("wrong number of args for or: want at least 1 got 0");
      for (const auto& v : a) {
        if (Truth(v)) return v;
      }
      return a.back();
    };
    f["eq"] = [](const std::vector<Value>& a) {
      if (a.size() < 2) Fail("missing argument for comparison");
      for (size_t i = 1; i < a.size(); ++i) {
        if (Equal(a[0], a[i])) return Value::Bool(true);
      }
      return Value::Bool(false);
    };
    f["ne"] = [](const std::vector<Value>& a) {
      Arity("ne", a, 2);
      return Value::Bool(!Equal(a[0], a[1]));
    };
    f["lt"] = [](const std::vector<Value>& a) {
      Arity("lt", a, 2);
      return Value::Bool(Less(a[0], a[1]));
    };
    f["le"] = [](const std::vector<Value>& a) {
      Arity("le", a, 2);
      return Value::Bool(Less(a[0], a[1]) || Equal(a[0], a[1]));
    };
    f["gt"] = [](const std::vector<Value>& a) {
      Arity("gt", a, 2);
      return Value::Bool(!Less(a[0], a[1]) && !Equal(a[0], a[1]));
    };
    f["ge"] = [](const std::vector<Value>& a) {
      Arity("ge", a, 2);
      return Value::Bool(!Less(a[0], a[1]));
    };
    f["len"] = [](const std::vector<Value>& a) {
      Arity("len", a, 1);
      switch (a[0].kind) {
        case Value::Kind::kString: return Value::Int(static_cast<int64_t>(a[0].s.size()));
        case Value::Kind::kMap: return Value::Int(static_cast<int64_t>(a[0].fields->size()));
        case Value::Kind::kList: return Value::Int(static_cast<int64_t>(a[0].list->size()));
        default: Fail("error calling len: len of type " + TypeName(a[0]));
      }
    };
    f["index"] = [](const std::vector<Value>& a) {
      if (a.empty()) Fail("wrong number of args for index: want at least 1 got 0");
      Value v = a[0];
      for (size_t i = 1; i < a.size(); ++i) {
        if (v.kind == Value::Kind::kMap) {
          v = Field(v, ToStringArg(a[i], "index"));
        } else if (v.kind == Value::Kind::kList && a[i].kind == Value::Kind::kInt) {
          if (a[i].i < 0 || static_cast<size_t>(a[i].i) >= v.list->size()) {
            Fail("error calling index: index out of range: " + std::to_string(a[i].i));
          }
          v = (*v.list)[static_cast<size_t>(a[i].i)];
        } else {
          Fail("error calling index: can't index item of type " + TypeName(v));
        }
      }
      return v;
    };
    f["print"] = [](const std::vector<Value>& a) {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) {
        // fmt.Sprint adds a space between operands when neither is a string.
        if (i > 0 && a[i].kind != Value::Kind::kString && a[i - 1].kind != Value::Kind::kString) out += " ";
        out += Print(a[i]);
      }
      return Value::String(out);
    };
    f["println"] = [](const std::vector<Value>& a) {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += " ";
        out += Print(a[i]);
      }
      return Value::String(out + "\n");
    };
    f["printf"] = [](const std::vector<Value>& a) {
      if (a.empty()) Fail("wrong number of args for printf: want at least 1 got 0");
      std::vector<Value> rest(a.begin() + 1, a.end());
      return Value::String(Sprintf(ToStringArg(a[0], "printf"), rest));
    };
    f["html"] = [](const std::vector<Value>& a) {
      std::string s, out;
      for (const auto& v : a) s += Print(v);
      for (char c : s) {
        switch (c) {
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '&': out += "&amp;"; break;
          case '"': out += "&#34;"; break;
          case '\'': out += "&#39;"; break;
          default: out += c;
        }
      }
      return Value::String(out);
    };
    // Prometheus's query functions: `query` gives a list of samples, each
    // with .Labels and .Value, which first, value and label take apart.
    f["query"] = [](const std::vector<Value>& a) {
      Arity("query", a, 1);
      if (current_query == nullptr) Fail("query is only available in alerting and recording rule templates");
      Result<std::vector<QueryResultSample>> r = (*current_query)(ToStringArg(a[0], "query"));
      if (!r.ok()) Fail("error executing query: " + r.status().message());
      std::vector<Value> samples;
      for (const auto& q : *r) {
        samples.push_back(Value::Struct({{"Labels", Value::FromLabels(q.labels)}, {"Value", Value::Float(q.value)}}));
      }
      return Value::List(std::move(samples));
    };
    f["first"] = [](const std::vector<Value>& a) {
      Arity("first", a, 1);
      if (a[0].kind != Value::Kind::kList) Fail("first: expected the result of query");
      if (a[0].list->empty()) Fail("first() called on vector with no elements");
      return a[0].list->front();
    };
    auto sample_field = [](const Value& v, const char* fn, const char* field) -> const Value& {
      if (v.kind != Value::Kind::kStruct || !v.fields->count(field)) {
        Fail(std::string(fn) + ": expected a sample from query");
      }
      return v.fields->at(field);
    };
    f["value"] = [sample_field](const std::vector<Value>& a) {
      Arity("value", a, 1);
      return sample_field(a[0], "value", "Value");
    };
    f["label"] = [sample_field](const std::vector<Value>& a) {
      Arity("label", a, 2);
      const Value& labels = sample_field(a[1], "label", "Labels");
      auto it = labels.fields->find(ToStringArg(a[0], "label"));
      return it == labels.fields->end() ? Value::String("") : it->second;
    };
    f["urlquery"] = [](const std::vector<Value>& a) {
      std::string s, out;
      for (const auto& v : a) s += Print(v);
      for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          out += static_cast<char>(c);
        } else if (c == ' ') {
          out += '+';
        } else {
          char buf[4];
          std::snprintf(buf, sizeof buf, "%%%02X", c);
          out += buf;
        }
      }
      return Value::String(out);
    };
    return f;
  }();
  return kFunctions;
}

bool IsFunction(const std::string& name) { return Functions().count(name) != 0; }

std::string PipeString(const Pipe& p);

std::string ArgString(const Arg& a) {
  std::string out;
  switch (a.kind) {
    case Arg::Kind::kDot: out = a.chain.empty() ? "." : ""; break;
    case Arg::Kind::kField: break;
    case Arg::Kind::kVar: out = a.name; break;
    case Arg::Kind::kFunc: out = a.name; break;
    case Arg::Kind::kLiteral: out = a.literal.kind == Value::Kind::kNil ? "nil" : a.text; break;
    case Arg::Kind::kPipe: out = "(" + PipeString(*a.pipe) + ")"; break;
  }
  for (const auto& f : a.chain) out += "." + f;
  return out;
}

std::string CommandString(const Command& c) {
  std::string out;
  for (const auto& a : c.args) {
    if (!out.empty()) out += " ";
    out += ArgString(a);
  }
  return out;
}

std::string PipeString(const Pipe& p) {
  std::string out;
  for (size_t i = 0; i < p.decl.size(); ++i) out += (i > 0 ? ", " : "") + p.decl[i];
  if (!p.decl.empty()) out += p.assign ? " = " : " := ";
  for (size_t i = 0; i < p.cmds.size(); ++i) out += (i > 0 ? " | " : "") + CommandString(p.cmds[i]);
  return out;
}

struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  std::string out;
  int depth = 0;
  int64_t steps = 0;  // bounds the work of nested ranges
};

class Executor {
 public:
  explicit Executor(Frame& frame, const Definitions* defines = nullptr) : f_(frame), defines_(defines) {}

  void Walk(const Node& n, const Value& dot) {
    if (++f_.steps > 1'000'000) Fail("template execution took more than 1000000 steps");
    switch (n.kind) {
      case Node::Kind::kList: {
        size_t mark = f_.vars.size();
        for (const auto& c : n.list) Walk(*c, dot);
        f_.vars.resize(mark);
        break;
      }
      case Node::Kind::kText: f_.out += n.text; break;
      case Node::Kind::kAction: {
        Value v = EvalPipe(*n.pipe, dot);
        if (n.pipe->decl.empty()) f_.out += Print(v);
        break;
      }
      case Node::Kind::kIf:
      case Node::Kind::kWith: {
        size_t mark = f_.vars.size();
        Value v = EvalPipe(*n.pipe, dot);
        if (Truth(v)) {
          Walk(*n.body, n.kind == Node::Kind::kWith ? v : dot);
        } else if (n.else_body) {
          Walk(*n.else_body, dot);
        }
        f_.vars.resize(mark);
        break;
      }
      case Node::Kind::kRange: Range(n, dot); break;
      case Node::Kind::kTemplate: Call(n, dot); break;
    }
    if (f_.out.size() > (16u << 20)) Fail("output exceeds 16 MiB");
  }

 private:
  void SetVar(const std::string& name, Value v, bool assign) {
    if (assign) {
      for (auto it = f_.vars.rbegin(); it != f_.vars.rend(); ++it) {
        if (it->first == name) {
          it->second = std::move(v);
          return;
        }
      }
      Fail("undefined variable: " + name);
    }
    f_.vars.emplace_back(name, std::move(v));
  }

  void Range(const Node& n, const Value& dot) {
    size_t mark = f_.vars.size();
    // The declared variables of a range take the key and element, not the pipeline's value.
    Pipe p = *n.pipe;
    std::vector<std::string> decl = p.decl;
    bool assign = p.assign;
    p.decl.clear();
    Value v = EvalPipe(p, dot);
    std::vector<std::pair<Value, Value>> items;
    switch (v.kind) {
      case Value::Kind::kMap:
        for (const auto& [k, x] : *v.fields) items.emplace_back(Value::String(k), x);
        break;
      case Value::Kind::kList:
        for (size_t i = 0; i < v.list->size(); ++i)
          items.emplace_back(Value::Int(static_cast<int64_t>(i)), (*v.list)[i]);
        break;
      case Value::Kind::kInt:
        for (int64_t i = 0; i < std::min<int64_t>(v.i, 1 << 20); ++i) items.emplace_back(Value::Int(i), Value::Int(i));
        break;
      case Value::Kind::kNil: break;
      default: {
        TemplateError e;
        e.line = n.pipe->line;
        e.col = n.pipe->col;
        e.reason = "range can't iterate over " + Print(v);
        e.context = PipeString(*n.pipe);
        e.message = std::to_string(e.line) + ":" + std::to_string(e.col) + ": " + e.reason;
        throw e;
      }
    }
    if (items.empty()) {
      if (n.else_body) Walk(*n.else_body, dot);
      f_.vars.resize(mark);
      return;
    }
    for (const auto& [key, elem] : items) {
      size_t inner = f_.vars.size();
      if (decl.size() == 1) SetVar(decl[0], elem, assign);
      if (decl.size() == 2) {
        SetVar(decl[0], key, assign);
        SetVar(decl[1], elem, assign);
      }
      Walk(*n.body, elem);
      if (!assign) f_.vars.resize(inner);
    }
    f_.vars.resize(mark);
  }

  Value Lookup(const std::string& name) {
    for (auto it = f_.vars.rbegin(); it != f_.vars.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    Fail("undefined variable: " + name);
  }

  Value EvalPipe(const Pipe& p, const Value& dot) {
    if (++f_.depth > 1000) Fail("exceeded maximum template depth (1000)");
    Value v;
    bool have = false;
    for (const auto& cmd : p.cmds) {
      try {
        v = EvalCommand(cmd, dot, have ? &v : nullptr);
      } catch (const TemplateError& e) {
        if (e.line != 0) throw;
        TemplateError located = e;
        located.line = cmd.line;
        located.col = cmd.col;
        located.reason = e.message;
        located.context = CommandString(cmd);
        located.message = std::to_string(cmd.line) + ":" + std::to_string(cmd.col) + ": " + e.message;
        throw located;
      }
      have = true;
    }
    for (const auto& name : p.decl) SetVar(name, v, p.assign);
    --f_.depth;
    return v;
  }

  Value EvalArg(const Arg& a, const Value& dot) {
    Value v;
    switch (a.kind) {
      case Arg::Kind::kDot:
      case Arg::Kind::kField: v = dot; break;
      case Arg::Kind::kVar: v = Lookup(a.name); break;
      case Arg::Kind::kLiteral: v = a.literal; break;
      case Arg::Kind::kPipe: v = EvalPipe(*a.pipe, dot); break;
      case Arg::Kind::kFunc: return Call(a.name, {}, nullptr, dot);
    }
    for (const auto& field : a.chain) v = Field(v, field);
    return v;
  }

  Value Call(const std::string& name, const std::vector<Arg>& args, const Value* final, const Value& dot) {
    std::vector<Value> values;
    for (const auto& a : args) values.push_back(EvalArg(a, dot));
    if (final != nullptr) values.push_back(*final);
    const auto& fns = Functions();
    auto it = fns.find(name);
    if (it == fns.end()) Fail("function \"" + name + "\" not defined");
    try {
      return it->second(values);
    } catch (const TemplateError& e) {
      if (StartsWith(e.message, "error calling") || StartsWith(e.message, "wrong number")) throw;
      Fail("error calling " + name + ": " + e.message);
    }
  }

  Value EvalCommand(const Command& cmd, const Value& dot, const Value* final) {
    const Arg& first = cmd.args[0];
    if (first.kind == Arg::Kind::kFunc) {
      std::vector<Arg> rest(cmd.args.begin() + 1, cmd.args.end());
      return Call(first.name, rest, final, dot);
    }
    if (cmd.args.size() > 1 || final != nullptr) Fail("can't give argument to non-function " + first.text);
    return EvalArg(first, dot);
  }

  // {{template "name" pipeline}}: the named template with the pipeline's
  // value as its dot and `$`, and none of the caller's variables.
  void Call(const Node& n, const Value& dot) {
    auto fail = [&](const std::string& reason) {
      TemplateError e;
      e.line = n.line;
      e.col = n.col;
      e.reason = reason;
      e.context = "template \"" + n.text + "\"";
      e.message = std::to_string(e.line) + ":" + std::to_string(e.col) + ": " + e.reason;
      throw e;
    };
    auto it = defines_ ? defines_->find(n.text) : Definitions::const_iterator{};
    if (!defines_ || it == defines_->end()) fail("no such template \"" + n.text + "\"");
    if (f_.depth >= 100) fail("exceeded maximum template depth (100)");
    Value arg = n.pipe ? EvalPipe(*n.pipe, dot) : Value::Nil();
    std::vector<std::pair<std::string, Value>> saved = std::move(f_.vars);
    f_.vars = {{"$", arg}};
    ++f_.depth;
    Walk(*it->second, arg);
    --f_.depth;
    f_.vars = std::move(saved);
  }

  Frame& f_;
  const Definitions* defines_;
};

}  // namespace

Result<Template> Template::Parse(std::string_view text, const std::vector<std::string>& predefined) {
  try {
    Parser p(text, predefined);
    Template t;
    t.root_ = p.Parse();
    t.defines_ = std::make_shared<const Definitions>(p.definitions());
    return t;
  } catch (const TemplateError& e) {
    return Status::Error(e.message);
  }
}

Result<Template> Template::ParseAlert(std::string_view text) { return Parse(text, kAlertVariables); }

Result<std::string> Template::Execute(const Value& dot, const std::map<std::string, Value>& variables) const {
  Frame frame;
  frame.vars.emplace_back("$", dot);
  for (const auto& [k, v] : variables) frame.vars.emplace_back(k, v);
  try {
    Executor(frame, defines_.get()).Walk(*root_, dot);
  } catch (const TemplateError& e) {
    return Status::Error(e.message);
  }
  return std::move(frame.out);
}

void Template::Use(const Template& other) {
  if (!other.defines_ || other.defines_->empty()) return;
  auto merged = std::make_shared<Definitions>(*other.defines_);
  if (defines_) {
    for (const auto& [name, body] : *defines_) (*merged)[name] = body;
  }
  defines_ = std::move(merged);
}

namespace {

void CollectCalls(const Node& n, std::set<std::string>* out) {
  if (n.kind == Node::Kind::kTemplate) out->insert(n.text);
  for (const auto& c : n.list) CollectCalls(*c, out);
  if (n.body) CollectCalls(*n.body, out);
  if (n.else_body) CollectCalls(*n.else_body, out);
}

}  // namespace

std::vector<std::string> Template::CalledNames() const {
  std::set<std::string> names;
  if (root_) CollectCalls(*root_, &names);
  if (defines_) {
    for (const auto& [name, body] : *defines_) CollectCalls(*body, &names);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> Template::DefinedNames() const {
  std::vector<std::string> out;
  if (defines_) {
    for (const auto& [name, body] : *defines_) out.push_back(name);
  }
  return out;
}

Result<std::string> Template::ExecuteAlert(const AlertData& data) const {
  QueryScope scope(data.query);
  Value dot = MakeAlertData(data);
  return Execute(dot, {{"$labels", (*dot.fields).at("Labels")},
                       {"$externalLabels", (*dot.fields).at("ExternalLabels")},
                       {"$externalURL", (*dot.fields).at("ExternalURL")},
                       {"$value", (*dot.fields).at("Value")}});
}

std::string ExpandAlert(std::string_view text, const AlertData& data, std::string_view name) {
  // Most annotations have no action at all.
  if (text.find("{{") == std::string_view::npos) return std::string(text);
  std::string tname = "__alert_" + std::string(name);
  Result<Template> t = Template::ParseAlert(text);
  if (!t.ok()) {
    if (name.empty()) return "<error expanding template: " + t.status().message() + ">";
    // Go's parse errors name the line only: "template: NAME:LINE: reason".
    const std::string m = t.status().message();  // a copy: status() returns a temporary
    size_t colon = m.find(':');
    size_t second = m.find(": ", colon + 1);
    return "<error expanding template: error parsing template " + tname + ": template: " + tname + ":" +
           m.substr(0, colon) + ": " + m.substr(second + 2) + ">";
  }
  QueryScope scope(data.query);
  Value dot = MakeAlertData(data);
  Frame frame;
  frame.vars.emplace_back("$", dot);
  frame.vars.emplace_back("$labels", (*dot.fields).at("Labels"));
  frame.vars.emplace_back("$externalLabels", (*dot.fields).at("ExternalLabels"));
  frame.vars.emplace_back("$externalURL", (*dot.fields).at("ExternalURL"));
  frame.vars.emplace_back("$value", (*dot.fields).at("Value"));
  try {
    Executor(frame, t->defines_.get()).Walk(*t->root_, dot);
  } catch (const TemplateError& e) {
    if (name.empty() || e.line == 0) return "<error expanding template: " + e.message + ">";
    // Prometheus prepends its variable definitions (112 bytes) on the first
    // line, and Go counts columns from 0.
    int col = e.col - 1 + (e.line == 1 ? 112 : 0);
    return "<error expanding template: error executing template " + tname + ": template: " + tname + ":" +
           std::to_string(e.line) + ":" + std::to_string(col) + ": executing \"" + tname + "\" at <" + e.context +
           ">: " + e.reason + ">";
  }
  return std::move(frame.out);
}

std::vector<std::string> FunctionNames() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : Functions()) names.push_back(name);
  return names;
}

}  // namespace vigil::tmpl
