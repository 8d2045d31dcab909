// A streaming pull parser for the Prometheus text exposition format 0.0.4 and
// OpenMetrics 1.0 text. It accepts what Prometheus 2.42's parsers (scrape, and
// promtool's OpenMetrics backfill) accept, except that it also rejects, as the
// format specifications do: a raw line feed inside a label value, labels not
// separated by commas in text 0.0.4, a HELP line whose metric name runs into
// other characters ("# HELP a-b ..."), CRLF line endings on any kind of line
// (Prometheus rejects them on sample and TYPE lines only), and duplicate label
// names or a `__name__` label (Prometheus rejects those when appending). The
// first error is reported as "line L:C: reason" (1-based, C counted in bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/metrics.h"
#include "base/status.h"
#include "expfmt/expfmt.h"

namespace vigil::expfmt {

// The type a `# TYPE` line declares. Text 0.0.4's "untyped" and OpenMetrics's
// "unknown" are both kUnknown.
enum class FamilyType { kCounter, kGauge, kHistogram, kGaugeHistogram, kSummary, kInfo, kStateset, kUnknown };

// The spelling of `type` in `format` ("untyped" in text 0.0.4, "unknown" in
// OpenMetrics; types text 0.0.4 lacks are spelled as in OpenMetrics).
std::string_view FamilyTypeName(FamilyType type, Format format);
// The closest MetricType: counter and gauge map to themselves, all else to kUntyped.
MetricType ToMetricType(FamilyType type);

// Usage:
//   TextParser p(body, Format::kText004);
//   for (auto e = p.Next(); e != TextParser::kEnd; e = p.Next()) {
//     if (e == TextParser::kError) return p.status();
//     if (e == TextParser::kSample) Use(p.name(), p.labels(), p.value(), p.timestamp_ms());
//   }
// The input must outlive the parser. Views returned by the accessors stay
// valid until the next call to Next().
class TextParser {
 public:
  enum Entry {
    kSample,   // name(), label_list()/labels(), value(), timestamp_ms()
    kType,     // name() is the family, type()
    kHelp,     // name() is the family, text() the help with escapes decoded
    kUnit,     // name() is the family, text() the unit (OpenMetrics only)
    kComment,  // text() is the comment after '#' and blanks (text 0.0.4 only)
    kEof,      // `# EOF` (OpenMetrics only; nothing may follow it)
    kEnd,      // the input is exhausted; every later call returns kEnd again
    kError,    // status() says where and why; every later call returns kError again
  };

  TextParser(std::string_view input, Format format);
  TextParser(const TextParser&) = delete;
  TextParser& operator=(const TextParser&) = delete;

  // Advances to the next entry. Exemplars are checked and skipped.
  Entry Next();

  // The metric name of a sample as written (no _total/_created handling), or
  // the family name of a TYPE, HELP or UNIT line.
  std::string_view name() const { return name_; }
  // The labels of the current sample, sorted by name, without __name__ and
  // without labels whose value is empty (Prometheus treats those as absent).
  // The strings are reused across Next() calls, so reading them costs nothing.
  std::span<const Label> label_list() const {
    return as_expected_ ? expected_labels_ : std::span<const Label>(labels_.data(), label_count_);
  }
  // The current sample's label block as written, from '{' to '}' (empty without one).
  std::string_view label_text() const { return label_text_; }

  // A hint for input that repeats its series in a fixed order (a dump):
  // when the next sample's name is `name` and its label block is byte for
  // byte `label_text` (an earlier sample's label_text()), the block is not
  // parsed again, label_list() is `labels` (that sample's label_list(),
  // which the caller keeps alive until Next() is called again) and
  // as_expected() is true. Text that differs in any byte is parsed as usual.
  void Expect(std::string_view name, std::string_view label_text, std::span<const Label> labels) {
    expected_name_ = name;
    expected_label_text_ = label_text;
    expected_labels_ = labels;
  }
  bool as_expected() const { return as_expected_; }
  // The same labels as a Labels value, built on first use for each sample.
  const Labels& labels() const;
  double value() const { return value_; }
  // The sample's timestamp in milliseconds, if it has one. OpenMetrics gives
  // seconds as a float; they are converted like promtool does: the double
  // seconds times 1000, truncated toward zero (so "1.001" gives 1000).
  std::optional<int64_t> timestamp_ms() const {
    return has_timestamp_ ? std::optional<int64_t>(timestamp_ms_) : std::nullopt;
  }
  FamilyType type() const { return type_; }
  std::string_view text() const { return text_; }
  // Ok unless Next() returned kError.
  const Status& status() const { return status_; }
  // The 1-based line the current entry (or error) is on.
  size_t line() const { return line_; }
  // Bytes of the input consumed so far (for progress and releasing read input).
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  Format format() const { return open_metrics_ ? Format::kOpenMetrics100 : Format::kText004; }

 private:
  enum class State { kRunning, kDone, kFailed };

  Entry ParseSample();
  Entry ParseHashText();
  Entry ParseHashOpenMetrics();
  Entry ParseMetadata(Entry kind);
  bool ParseLabels(bool exemplar);
  bool ParseLabelValue(const char* open_quote, Label* dest);
  bool ParseExemplar();
  bool ParseValueToken(const char* start, const char* stop, double* out, std::string_view what);
  void FinishLabels();

  // Records an error at `pos` (on the current line) and returns false / kError.
  bool SetError(const char* pos, std::string_view reason);
  Entry Error(const char* pos, std::string_view reason) {
    SetError(pos, reason);
    return kError;
  }
  // "expected X, got Y" with Y describing the byte at `pos`.
  bool SetExpected(const char* pos, std::string_view expected);
  Entry Expected(const char* pos, std::string_view expected) {
    SetExpected(pos, expected);
    return kError;
  }
  std::string Describe(const char* pos) const;
  int Peek() const { return p_ < end_ ? static_cast<unsigned char>(*p_) : -1; }
  void SkipBlanks() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t')) ++p_;
  }
  // Finds the end of the current line: the '\n' or end_.
  const char* LineEnd(const char* from) const;

  const char* const begin_;
  const char* const end_;
  const bool open_metrics_;
  const char* p_;
  const char* line_start_;
  size_t line_ = 0;
  State state_ = State::kRunning;
  Status status_;

  std::string_view name_;
  std::vector<Label> labels_;  // the first label_count_ are the current sample's
  size_t label_count_ = 0;
  bool labels_sorted_ = true;
  std::string_view label_text_;
  std::string_view expected_name_;
  std::string_view expected_label_text_;
  std::span<const Label> expected_labels_;
  bool as_expected_ = false;
  mutable Labels labels_cache_;
  mutable bool labels_cached_ = false;
  double value_ = 0;
  int64_t timestamp_ms_ = 0;
  bool has_timestamp_ = false;
  FamilyType type_ = FamilyType::kUnknown;
  std::string_view text_;
  std::string text_buf_;
};

}  // namespace vigil::expfmt
