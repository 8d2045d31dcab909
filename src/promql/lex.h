// The PromQL lexer (internal to the parser): turns a query into tokens with
// byte positions, unquoting strings on the way, as Prometheus's lex.go does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::promql::internal {

enum class Tok {
  kEOF,
  kError,             // `text` holds the message
  kIdentifier,        // foo, sum, by, offset, …: keywords are told apart by the parser
  kMetricIdentifier,  // an identifier with ':' in it
  kNumber,
  kDuration,
  kString,  // `text` holds the unquoted value
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAt,
  kAssign,    // =
  kEqlRegex,  // =~
  kNeqRegex,  // !~
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,  // ==
  kNeq,   // !=
  kGtr,
  kLss,
  kGte,
  kLte,
};

struct Token {
  Tok type = Tok::kEOF;
  int pos = 0;  // byte offset of the first character
  int end = 0;  // byte offset past the last character
  std::string text;
};

// Lexes the whole input; the last token is kEOF or kError (lexing stops at
// the first error).
std::vector<Token> Lex(std::string_view input);

// How Prometheus names a token in "unexpected …" errors: `<op:*>`,
// `identifier "foo"`, `end of input`, `"("`.
std::string DescribeToken(const Token& t);

// True iff `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// Lower-cased copy.
std::string Lower(std::string_view s);

}  // namespace vigil::promql::internal
