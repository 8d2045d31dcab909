#!/usr/bin/env python3
"""Shipping the same 1 s host series to the same VictoriaMetrics, side by side:

  vigil-rw    vigil's own remote_write (its cost = CPU of vigil with
              remote_write minus CPU of the same vigil without it)
  vmagent     Debian's vmagent scraping that vigil's /metrics every 1 s and
              remote-writing it (its whole cost)
  prom-agent  Prometheus 2.42 in agent mode (--enable-feature=agent) doing
              the same (its whole cost)

each over --seconds after --warmup, one at a time, --runs times. CPU is
utime+stime from /proc/PID/stat, RSS is VmRSS at the end. Then the catch-up
rate: VictoriaMetrics stopped for --outage seconds while vigil collects,
restarted, and the time from its return until vigil's acknowledged
timestamp passes that moment, with the samples sent meanwhile. Loopback only; processes stopped by PID.

  bench/compare_remote_write.py [--vigil build/vigil] [--seconds 60] [--warmup 15] [--runs 2] [--outage 600]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import vigiltest as vt  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure(pid, warmup, seconds):
    time.sleep(warmup)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100, vt.rss_mib(pid)


def start_vm(tmp, port):
    p = subprocess.Popen(["victoria-metrics", f"-storageDataPath={tmp}/vm", f"-httpListenAddr=127.0.0.1:{port}",
                          "-retentionPeriod=100y"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vt.wait_until(lambda: vt.get(f"http://127.0.0.1:{port}/health")[0] == 200, timeout=30, what="VictoriaMetrics")
    return p


def vigil_config(rw_url=None):
    text = "host: {interval: 1s}\n"
    if rw_url:
        text += f"remote_write:\n  - {{name: vm, url: '{rw_url}'}}\n"
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default="build/vigil")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=15)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--outage", type=float, default=600)
    a = ap.parse_args()
    for tool in ("victoria-metrics", "vmagent", "prometheus"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (scripts/setup.sh)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for run in range(1, a.runs + 1):
        tmp = tempfile.mkdtemp(prefix="vigil-rwbench.")
        port = vt.free_port()
        vm = start_vm(tmp, port)
        write = f"http://127.0.0.1:{port}/api/v1/write"
        rows = {}
        try:
            v = vt.Vigil(a.vigil, vigil_config())
            v.wait_ready()
            base = measure(v.proc.pid, a.warmup, a.seconds)
            rows["vigil alone"] = base
            # The same vigil's /metrics, scraped every second by each agent.
            scrape = (f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: vigil\n"
                      f"    static_configs: [{{targets: ['127.0.0.1:{v.port}']}}]\n")
            with open(f"{tmp}/scrape.yml", "w") as f:
                f.write(scrape)
            vmagent = subprocess.Popen(["vmagent", f"-remoteWrite.url={write}",
                                        f"-remoteWrite.tmpDataPath={tmp}/vmagent",
                                        f"-httpListenAddr=127.0.0.1:{vt.free_port()}",
                                        f"-promscrape.config={tmp}/scrape.yml"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows["vmagent (whole)"] = measure(vmagent.pid, a.warmup, a.seconds)
            vt.stop_process(vmagent)
            with open(f"{tmp}/prom.yml", "w") as f:
                f.write(scrape + f"remote_write: [{{url: '{write}'}}]\n")
            prom = subprocess.Popen(["prometheus", "--enable-feature=agent", f"--config.file={tmp}/prom.yml",
                                     f"--storage.agent.path={tmp}/agent",
                                     f"--web.listen-address=127.0.0.1:{vt.free_port()}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows["Prometheus agent (whole)"] = measure(prom.pid, a.warmup, a.seconds)
            vt.stop_process(prom)
            v.cleanup()
            v = vt.Vigil(a.vigil, vigil_config(write))
            v.wait_ready()
            with_rw = measure(v.proc.pid, a.warmup, a.seconds)
            rows["vigil with remote_write"] = with_rw
            rows["vigil's added cost"] = (with_rw[0] - base[0], with_rw[1] - base[1])
            print(f"run {run}: CPU % of one core, RSS MiB ({a.seconds:.0f} s each)")
            for name, (cpu, rss) in rows.items():
                print(f"  {name:28s} {cpu:6.2f} %  {rss:7.1f} MiB")
            if run == a.runs and a.outage > 0:
                vt.stop_process(vm)
                sent0 = metric(v, "vigil_remote_storage_samples_total")
                time.sleep(a.outage)
                vm = start_vm(tmp, port)
                back = time.time()  # the receiver answers again
                vt.wait_until(lambda: metric(v, "vigil_remote_storage_highest_sent_timestamp_seconds") >= back,
                              timeout=600, interval=0.05, what="caught up")
                took = time.time() - back
                sent = metric(v, "vigil_remote_storage_samples_total") - sent0
                print(f"catch-up after a {a.outage:.0f} s outage: {sent:.0f} samples in {took:.2f} s "
                      f"from the receiver's return (retry backoff included) = {sent / took:,.0f} samples/s")
            v.cleanup()
        finally:
            vt.stop_process(vm)
            shutil.rmtree(tmp, ignore_errors=True)


def metric(v, name):
    fam = vt.parse_exposition(v.metrics()).get(name, {"samples": {}})
    return next(iter(fam["samples"].values()), 0)


if __name__ == "__main__":
    main()
