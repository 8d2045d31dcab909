"""Remote write from vigil to a real Prometheus 2.42 (--web.enable-remote-write-receiver)
and a real VictoriaMetrics, in one run:

1. every sample vigil stored in a window is in both receivers, timestamp for
   timestamp and value for value (Prometheus: the same range-vector query;
   VictoriaMetrics: /api/v1/export);
2. no loss: Prometheus is stopped while vigil collects at 1 s, vigil is
   SIGKILLed and restarted during the outage, Prometheus comes back, and then
   it holds every sample vigil stored over the whole window;
3. export resolution: a third target sends VictoriaMetrics one point per
   series per 10 s step (the step's last value, and its max under
   aggregate="max"), equal to vigil's own samples downsampled the way its store
   does (the store's 5 m series are checked against the same code in
   RemoteWriter.ExportResolutionSendsTheStoresOwnFiveMinutePointsOnceEach).

The outage lasts VIGIL_RW_OUTAGE_SECONDS (default 20; the acceptance run uses 600)."""
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import vigiltest as vt

a = vt.args()
prometheus = vt.need("prometheus")
victoria = vt.need("victoria-metrics")
outage = float(os.environ.get("VIGIL_RW_OUTAGE_SECONDS", "20"))
c = vt.Checks()
tmp = tempfile.mkdtemp(prefix="vigil-rw.")
procs = []


def start_prometheus(port, data):
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1m\n")
    log = open(os.path.join(tmp, f"prometheus-{len(procs)}.log"), "w")
    p = subprocess.Popen([prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                          f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
                          "--storage.tsdb.retention.time=10y"], stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    vt.wait_until(lambda: vt.get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, timeout=30, what="Prometheus ready")
    return p


def start_victoria(port):
    log = open(os.path.join(tmp, "victoria.log"), "w")
    p = subprocess.Popen([victoria, f"-storageDataPath={tmp}/vm", f"-httpListenAddr=127.0.0.1:{port}",
                          "-retentionPeriod=100y", "-search.latencyOffset=0s"],
                         stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    vt.wait_until(lambda: vt.get(f"http://127.0.0.1:{port}/health")[0] == 200, timeout=30, what="VictoriaMetrics up")
    return p


def query(base, q, t):
    status, _, body = vt.get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": f"{t:.3f}"}),
                             timeout=30)
    assert status == 200, (base, q, status, body[:300])
    return json.loads(body)["data"]["result"]


def samples_by_series(result):
    """{labels: [(ms, value)]} from a matrix, staleness markers aside."""
    out = {}
    for s in result:
        key = tuple(sorted(s["metric"].items()))
        pts = [(round(float(t) * 1000), float(v)) for t, v in s["values"] if not math.isnan(float(v))]
        if pts:
            out[key] = pts
    return out


def vm_export(base, start_ms, end_ms):
    vt.get(base + "/internal/force_flush")
    params = urllib.parse.urlencode({"match[]": '{__name__=~".+"}', "start": f"{start_ms / 1000:.3f}",
                                     "end": f"{end_ms / 1000:.3f}"})
    status, _, body = vt.get(base + "/api/v1/export?" + params, timeout=60)
    assert status == 200, (status, body[:300])
    out = {}
    for line in body.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        key = tuple(sorted(row["metric"].items()))
        pts = [(t, v) for t, v in zip(row["timestamps"], row["values"])
               if start_ms < t <= end_ms and not (isinstance(v, float) and math.isnan(v))]
        if pts:
            out.setdefault(key, []).extend(pts)
    return {k: sorted(set(v)) for k, v in out.items()}


def compare(name, want, got, exact=True):
    """Every series and sample of `want` is in `got`."""
    missing_series = [k for k in want if k not in got]
    missing, differ, rounded, total = 0, 0, 0, 0
    example = ""
    for k, pts in want.items():
        have = dict(got.get(k, []))
        for t, v in pts:
            total += 1
            if t not in have:
                missing += 1
                example = example or f"{dict(k)} @ {t}"
            elif have[t] != v:
                # VictoriaMetrics keeps about 15 significant digits (64.96900000000001 comes back as 64.969).
                if not exact and abs(have[t] - v) <= 1e-12 * max(1.0, abs(v)):
                    rounded += 1
                else:
                    differ += 1
                    example = example or f"{dict(k)} @ {t}: {v} vs {have[t]}"
    c.check(f"{name}: all {len(want)} series and {total} samples present, values equal "
            f"(missing series {len(missing_series)}, missing samples {missing}, different {differ}"
            + (f", rounded in the last digit by the receiver {rounded}" if not exact else "") + ")",
            total > 0 and not missing_series and missing == 0 and differ == 0,
            example or str(missing_series[:3]))


def downsampled(raw, step_ms, start_ms, end_ms):
    """{labels: [(t, v)]} of the last value per step, and {labels + aggregate=max: ...}:
    each point stamped with the step's last raw timestamp, as vigil's store does."""
    out = {}
    for k, pts in raw.items():
        steps = {}
        for t, val in pts:
            if start_ms <= t < end_ms:
                steps.setdefault(t // step_ms, []).append((t, val))
        for _, in_step in sorted(steps.items()):
            t_last, v_last = in_step[-1]
            out.setdefault(k, []).append((t_last, v_last))
            out.setdefault(tuple(sorted(k + (("aggregate", "max"),))), []).append(
                (t_last, max(val for _, val in in_step)))
    return out


def metric(v, name, remote_name, reason=None):
    fam = vt.parse_exposition(v.metrics()).get(name, {"samples": {}})
    for labels, value in fam["samples"].items():
        d = dict(labels)
        if d.get("remote_name") == remote_name and (reason is None or d.get("reason") == reason):
            return value
    return None


def sent_up_to(v, remote_name):
    return (metric(v, "vigil_remote_storage_highest_sent_timestamp_seconds", remote_name) or 0) * 1000


prom_port, vm_port = vt.free_port(), vt.free_port()
prom_data = os.path.join(tmp, "prom")
v = None
try:
    prom = start_prometheus(prom_port, prom_data)
    start_victoria(vm_port)
    prom_url, vm_url = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{vm_port}"
    config = f"""host:
  interval: 1s
remote_write:
  - name: prometheus
    url: {prom_url}/api/v1/write
    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s}}
  - name: victoria
    url: {vm_url}/api/v1/write
    queue_config: {{batch_send_deadline: 200ms}}
  - name: victoria-10s
    url: {vm_url}/api/v1/write
    resolution: 10s
    resolution_delay: 2s
    aggregates: [last, max]
    queue_config: {{batch_send_deadline: 200ms}}
    write_relabel_configs:
      - {{target_label: export, replacement: 10s}}
"""
    v = vt.Vigil(a.vigil, config)
    with vt.running(lambda: v):
        v.wait_ready()
        # The two whole 10 s steps after the one the export target began in.
        export_from = (int(time.time() * 1000) // 10000 + 2) * 10000
        time.sleep(6)
        t_end = time.time() * 1000 - 1500
        # Every collector commits within a second of its samples' time: once
        # both receivers acknowledged samples 3 s newer, the window is complete.
        vt.wait_until(lambda: min(sent_up_to(v, "prometheus"), sent_up_to(v, "victoria")) >= t_end + 3000,
                      timeout=30, what="both receivers caught up")
        window = 5000
        sel = '{__name__=~".+"}[%ds]' % (window // 1000)
        want = samples_by_series(query(v.url, sel, t_end / 1000))
        c.check(f"vigil stored {len(want)} series in the {window // 1000} s window", len(want) > 100, str(len(want)))
        compare("Prometheus 2.42 (remote-write receiver)", want, samples_by_series(query(prom_url, sel, t_end / 1000)))
        compare("VictoriaMetrics (/api/v1/write, compared via /api/v1/export)", want,
                vm_export(vm_url, t_end - window, t_end), exact=False)

        # --- Export resolution: 10 s steps, last and max ---
        vt.wait_until(lambda: sent_up_to(v, "victoria-10s") >= export_from + 19000, timeout=60,
                      what="the export target sent its second whole step")
        raw = samples_by_series(query(v.url, '{__name__=~".+"}[20s]', (export_from + 19999) / 1000))
        want = downsampled(raw, 10000, export_from, export_from + 20000)
        exported = {tuple(kv for kv in k if kv[0] != "export"): pts
                    for k, pts in vm_export(vm_url, export_from - 1, export_from + 19999).items()
                    if ("export", "10s") in k}
        compare(f"export resolution 10s: {len(raw)} series' last and max per step at VictoriaMetrics "
                "equal vigil's samples downsampled", want, exported, exact=False)
        extra = sum(len(pts) for pts in exported.values()) - sum(len(pts) for pts in want.values())
        c.check("one point per series, aggregate and step: nothing else exported", extra == 0, str(extra))
        late = metric(v, "vigil_remote_storage_samples_dropped_total", "victoria-10s", "late")
        print(f"export resolution: samples written after their step was sent: {late}")

        hdr = vt.get(v.url + "/metrics")[2]
        c.check("vigil_remote_storage_* metrics exported per target",
                'vigil_remote_storage_samples_total{remote_name="prometheus"' in hdr and
                'vigil_remote_storage_shards{remote_name="victoria"' in hdr, hdr[:200])

        # --- No loss across a receiver outage and a vigil SIGKILL inside it ---
        outage_start = time.time() * 1000
        vt.stop_process(prom)
        time.sleep(outage / 2)
        pending = metric(v, "vigil_remote_storage_backlog_bytes", "prometheus")
        c.check(f"during the outage the backlog grows ({pending:.0f} bytes of WAL held)", pending and pending > 0)
        v.proc.send_signal(signal.SIGKILL)
        v.proc.wait()
        v.log.close()
        v2 = vt.Vigil(a.vigil, config, data_dir=v.data_dir, listen=v.listen)
    with vt.running(lambda: v2):
        v2.wait_ready(timeout=30)
        time.sleep(outage / 2)
        outage_end = time.time() * 1000
        prom = start_prometheus(prom_port, prom_data)
        caught_up_at = vt.wait_until(lambda: sent_up_to(v2, "prometheus") >= outage_end + 2000 and time.time(),
                                     timeout=120, what="vigil caught up with Prometheus after the outage")
        catch_up_s = caught_up_at - outage_end / 1000
        sent = metric(v2, "vigil_remote_storage_samples_total", "prometheus") or 0
        print(f"catch-up: {outage:.0f} s outage sent in {catch_up_s:.2f} s after the receiver returned "
              f"({sent:.0f} samples sent by the restarted vigil)")
        t_end = outage_end + 1000
        span = int((t_end - (outage_start - 10000)) // 1000)
        sel = '{__name__=~".+"}[%ds]' % span
        want = samples_by_series(query(v2.url, sel, t_end / 1000))
        got = samples_by_series(query(prom_url, sel, t_end / 1000))
        compare(f"no loss over {span} s with a {outage:.0f} s receiver outage and a SIGKILL of vigil inside it",
                want, got)
        dropped = metric(v2, "vigil_remote_storage_samples_dropped_total", "prometheus", "backlog")
        c.check("nothing dropped for the backlog budget", dropped == 0, str(dropped))
        failed = metric(v2, "vigil_remote_storage_samples_failed_total", "prometheus")
        c.check("no samples refused by Prometheus", failed == 0, str(failed))
        c.check("the restart resumed from the saved position",
                "remote write started" in v2.logs() and "unreadable saved position" not in v2.logs(), v2.logs()[-500:])
        v2.cleanup()
    v.cleanup()
finally:
    for p in procs:
        vt.stop_process(p)
    shutil.rmtree(tmp, ignore_errors=True)
c.finish()
