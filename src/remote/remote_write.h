// Prometheus remote write 1.0 to one target, with a durable queue: the
// samples come from vigil's own WAL, and the position acknowledged by the
// receiver is saved, so a receiver outage or a vigil crash loses nothing
// that was committed locally (within the target's backlog budget).
// Design: docs/remote-write.md.
#pragma once

#include <memory>
#include <string>

#include "base/labels.h"
#include "base/metrics.h"
#include "config/config.h"

namespace vigil::remote {

struct WriterOptions {
  config::RemoteWriteTarget target;
  std::string wal_dir;    // the store's WAL (<data_dir>/tsdb/wal)
  std::string state_dir;  // where the acknowledged position is kept (<data_dir>/remote_write)
  // Added to every series that lacks them (global.external_labels), as Prometheus does.
  Labels external_labels;
  std::string user_agent = "vigil";
};

class RemoteWriter {
 public:
  // Reads the saved position, so the WAL it still needs is known before the
  // store opens (tsdb::Options::wal_held_from). Sends nothing until Start.
  static std::unique_ptr<RemoteWriter> Create(WriterOptions options);
  virtual ~RemoteWriter() = default;

  // The oldest WAL segment not yet acknowledged; INT_MAX when nothing is held.
  virtual int HeldFrom() const = 0;
  virtual void Start() = 0;
  // Saves the acknowledged position and stops; a send in flight is abandoned
  // (its samples are sent again after the next start).
  virtual void Stop() = 0;
  // vigil_remote_storage_* for /metrics.
  virtual void AppendMetrics(MetricBatch& out) const = 0;
};

}  // namespace vigil::remote
