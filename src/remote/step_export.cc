#include "remote/step_export.h"

#include <algorithm>
#include <climits>

#include "base/strings.h"

namespace vigil::remote {

namespace {

// A timestamp further ahead of the wall clock than this does not move the
// close (a clock jump must not close every step and make the rest late).
constexpr int64_t kFutureSlackMs = 60000;

}  // namespace

StepExport::StepExport(Duration resolution, Duration grace, TimestampMs closed_before)
    : resolution_ms_(resolution.count()),
      grace_ms_(grace.count()),
      closed_before_(AlignDown(closed_before, resolution.count())),
      sent_before_start_(closed_before_),
      taken_before_(closed_before_) {}

void StepExport::Add(const std::vector<tsdb::WalSample>& samples, WalPosition read_from, TimestampMs now) {
  TimestampMs newest = INT64_MIN;
  for (const tsdb::WalSample& s : samples) {
    const int64_t step = StepIndex(s.t, resolution_ms_);
    if (step * resolution_ms_ < closed_before_) {
      // Before where this run began: read again after a restart, sent by the run before.
      if (step * resolution_ms_ >= sent_before_start_) ++late_;
      continue;
    }
    auto it = open_.try_emplace(s.ref, Duration(resolution_ms_)).first;
    if (std::optional<TimestampMs> last = it->second.last_time(); last && s.t <= *last) {
      ++late_;  // out of order within the series: the store would refuse it too
      continue;
    }
    if (std::optional<tsdb::DownsampledPoint> done = it->second.Add(s.t, s.v)) {
      finished_[StepIndex(done->t, resolution_ms_)].push_back({s.ref, *done});
    }
    first_read_.try_emplace(step, read_from);
    if (s.t <= now + kFutureSlackMs) newest = std::max(newest, s.t);
  }
  if (newest != INT64_MIN) {
    closed_before_ = std::max(closed_before_, AlignDown(newest - grace_ms_, resolution_ms_));
  }
}

void StepExport::TakeClosed(std::vector<StepPoint>* out) {
  if (taken_before_ >= closed_before_) return;
  for (auto it = open_.begin(); it != open_.end();) {
    std::optional<int64_t> step = it->second.open_step();
    if (step && *step * resolution_ms_ < closed_before_) {
      finished_[*step].push_back({it->first, *it->second.Finish()});
    }
    // Nothing open: the series' state goes (a series that stopped costs nothing).
    it = it->second.open_step() ? std::next(it) : open_.erase(it);
  }
  for (auto it = finished_.begin(); it != finished_.end() && it->first * resolution_ms_ < closed_before_;) {
    out->insert(out->end(), it->second.begin(), it->second.end());
    it = finished_.erase(it);
  }
  first_read_.erase(first_read_.begin(), first_read_.lower_bound(StepIndex(closed_before_, resolution_ms_)));
  taken_before_ = closed_before_;
}

WalPosition StepExport::RestartFrom(WalPosition current) const {
  WalPosition from = current;
  for (const auto& [step, at] : first_read_) {
    from = std::min(from, at);
  }
  return from;
}

uint64_t StepExport::DropOpen() {
  double dropped = 0;
  for (const auto& [ref, steps] : open_) dropped += steps.open_count();
  for (const auto& [step, points] : finished_) {
    for (const StepPoint& p : points) dropped += p.point.count;
  }
  open_.clear();
  finished_.clear();
  first_read_.clear();
  return static_cast<uint64_t>(dropped);
}

std::optional<SavedPosition> ParseSavedPosition(std::string_view text) {
  std::vector<std::string_view> parts = SplitFields(Trim(text));
  if (parts.size() != 2 && parts.size() != 3) return std::nullopt;
  auto seg = ParseUint64(parts[0]);
  auto off = ParseUint64(parts[1]);
  if (!seg || !off || *seg > INT_MAX) return std::nullopt;
  SavedPosition p{{static_cast<int>(*seg), *off}, 0};
  if (parts.size() == 3) {
    auto closed = ParseUint64(parts[2]);
    if (!closed || *closed > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    p.closed_before = static_cast<TimestampMs>(*closed);
  }
  return p;
}

std::string FormatSavedPosition(const SavedPosition& p) {
  std::string out = std::to_string(p.wal.segment) + " " + std::to_string(p.wal.offset);
  if (p.closed_before > 0) out += " " + std::to_string(p.closed_before);
  return out + "\n";
}

}  // namespace vigil::remote
