#include "logs/log_collector.h"

#include <optional>

#include "logs/file_follower.h"
#include "logs/journal_follower.h"
#include "logs/state.h"

namespace vigil::logs {

std::string LogLabel(const LogCollectorOptions& o) {
  if (!o.path.empty()) return o.path;
  std::string unit = o.journal_unit;
  if (unit.find('.') == std::string::npos) unit += ".service";
  return "journal:" + unit;
}

namespace {

class LogCollector final : public collect::Collector {
 public:
  LogCollector(LogCollectorOptions o, std::unique_ptr<LineMatcher> matcher)
      : options_(std::move(o)),
        label_(LogLabel(options_)),
        name_("logs/" + options_.service + "/" + label_),
        matcher_(std::move(matcher)) {
    if (!options_.path.empty()) {
      file_ = std::make_unique<FileFollower>(options_.path, options_.max_line_bytes);
    } else {
      journal_ = std::make_unique<JournalFollower>(options_.journal_unit, options_.journal_directory);
    }
    if (!options_.state_dir.empty()) state_file_.emplace(options_.state_dir, options_.service, label_);
  }

  std::string_view name() const override { return name_; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    if (!loaded_) {
      // Without the lock (another reader of this log still finishing) nothing
      // is read; a lock that cannot be taken at all shows as state_save_failed.
      if (state_file_) {
        Result<bool> locked = state_file_->TryLock();
        if (locked.ok() && !*locked) {
          out.ReportError("state_locked", "another reader of " + label_ + " is still running; waiting for it", label_);
          return Status::Ok();
        }
      }
      Load(out);
    }
    // Half the time to the deadline is for reading; the rest covers saving and slow disks.
    auto start = std::chrono::steady_clock::now();
    auto deadline = ctx.deadline == std::chrono::steady_clock::time_point{}
                        ? std::chrono::steady_clock::time_point::max()
                        : start + (ctx.deadline - start) / 2;
    bool state_changed = false;
    auto on_line = [&](std::string_view line, bool truncated) {
      state_changed |= matcher_->Apply(line, ctx.now_ms, truncated);
    };
    PollOutcome p = file_ ? file_->Poll(options_.max_bytes_per_run, deadline, on_line)
                          : journal_->Poll(options_.max_bytes_per_run, deadline, ctx.now_ms, on_line);
    state_.bytes += p.bytes;
    state_.rotations += p.rotations;
    state_.truncations += p.truncations;
    if (!p.error.empty()) out.ReportError(p.error, p.detail, label_);
    Save(out);
    Emit(p, out);
    if (options_.storage != nullptr) options_.storage->Consume(name_, out, ctx.now_ms);
    if (state_changed && options_.events != nullptr) {
      options_.events->Publish({name_, {"vigil_log_state", "vigil_log_state_change_timestamp_seconds"}, ctx.now_ms});
    }
    return Status::Ok();
  }

 private:
  void Load(MetricBatch& out) {
    loaded_ = true;
    state_.source = label_;
    if (!state_file_) return;
    Result<LogState> s = state_file_->Load();
    if (!s.ok()) {
      // Starting over counts the file's lines again from 0: a counter reset, never a double count.
      out.ReportError("state_unreadable", s.status().message() + "; starting over", label_);
      return;
    }
    if (s->source != label_) return;  // empty (no file yet) or another log's
    state_ = std::move(*s);
    matcher_->Restore(state_.values);
    if (file_ && state_.has_position) file_->Restore(state_.position);
    if (journal_ && !state_.journal_cursor.empty()) journal_->Restore(state_.journal_cursor);
    saved_ = EncodeState(Snapshot());
  }

  LogState Snapshot() {
    LogState s = state_;
    s.values = matcher_->values();
    if (file_) {
      std::optional<FilePosition> pos = file_->position();
      s.has_position = pos.has_value();
      if (pos) s.position = *pos;
    } else {
      s.journal_cursor = journal_->cursor();
    }
    return s;
  }

  void Save(MetricBatch& out) {
    if (!state_file_) return;
    LogState snapshot = Snapshot();
    std::string text = EncodeState(snapshot);
    if (text == saved_) return;
    if (Status st = state_file_->Save(snapshot); !st.ok()) {
      out.ReportError("state_save_failed", st.message(), label_);
      return;
    }
    saved_ = std::move(text);
  }

  void Emit(const PollOutcome& p, MetricBatch& out) const {
    const Labels base{{"log", label_}, {"service", options_.service}};
    const RuleValues& v = matcher_->values();
    out.AddGauge("vigil_log_up", "1 when the log could be opened and read in the last run.", base, p.readable ? 1 : 0);
    out.AddCounter("vigil_log_lines_total", "Complete lines read from the log.", base, static_cast<double>(v.lines));
    out.AddCounter("vigil_log_bytes_total", "Bytes of complete lines read from the log (journal: message bytes).", base,
                   static_cast<double>(state_.bytes));
    out.AddCounter("vigil_log_long_lines_total",
                   "Lines longer than the line limit (64 KiB), matched on their start and counted once.", base,
                   static_cast<double>(v.long_lines));
    if (file_) {
      Labels renamed = base, truncated = base;
      renamed.Set("kind", "rename");
      truncated.Set("kind", "truncate");
      const char* help = "Times the log was rotated: rename (a new file at the path) or truncate (copytruncate).";
      out.AddCounter("vigil_log_rotations_total", help, renamed, static_cast<double>(state_.rotations));
      out.AddCounter("vigil_log_rotations_total", help, truncated, static_cast<double>(state_.truncations));
      out.AddGauge("vigil_log_unread_bytes", "Bytes of the log not read yet (a backlog the reader works off).", base,
                   static_cast<double>(file_->unread_bytes()));
    }
    auto with_rule = [&](const std::string& rule) {
      Labels l = base;
      l.Set("rule", rule);
      return l;
    };
    for (const auto& c : v.counters) {
      out.AddCounter("vigil_log_matches_total", "Lines that matched a counter rule.", with_rule(c.name),
                     static_cast<double>(c.count));
    }
    for (const auto& g : v.gauges) {
      if (!g.seen) continue;
      out.AddGauge("vigil_log_value", "The number captured by a gauge rule from the last matching line.",
                   with_rule(g.name), g.value);
      out.AddGauge("vigil_log_value_timestamp_seconds", "Unix time the gauge rule's last matching line was read.",
                   with_rule(g.name), static_cast<double>(g.time_ms) / 1000.0);
    }
    for (const auto& s : v.states) {
      if (s.value < 0) continue;
      out.AddGauge("vigil_log_state", "1 after a state rule's on pattern was seen, 0 after its off pattern.",
                   with_rule(s.name), s.value);
      out.AddGauge("vigil_log_state_change_timestamp_seconds", "Unix time the state rule last changed its value.",
                   with_rule(s.name), static_cast<double>(s.changed_ms) / 1000.0);
    }
  }

  LogCollectorOptions options_;
  std::string label_;
  std::string name_;
  std::unique_ptr<LineMatcher> matcher_;
  std::unique_ptr<FileFollower> file_;
  std::unique_ptr<JournalFollower> journal_;
  std::optional<StateFile> state_file_;
  bool loaded_ = false;
  LogState state_;     // totals besides the rule values; positions live in the followers
  std::string saved_;  // what the state file holds, to skip writes that change nothing
};

}  // namespace

Result<std::unique_ptr<collect::Collector>> NewLogCollector(LogCollectorOptions options) {
  if (options.path.empty() == options.journal_unit.empty()) {
    return Status::Error("log of " + options.service + ": needs exactly one of path and journal_unit");
  }
  Result<std::unique_ptr<LineMatcher>> m = LineMatcher::Compile(options.rules);
  if (!m.ok()) return m.status().WithContext("log " + LogLabel(options) + " of " + options.service);
  return std::unique_ptr<collect::Collector>(new LogCollector(std::move(options), std::move(*m)));
}

}  // namespace vigil::logs
