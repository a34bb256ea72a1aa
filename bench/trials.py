#!/usr/bin/env python3
"""Knock-to-open trials, run in the client's namespace.

Runs CMD N times; each trial waits until the service (HOST:PORT) is closed
again, starts CMD and tries TCP connects to the service back to back, each
bounded by 1 ms (the closed port drops SYNs, and the kernel would resend
one only after 1 s), until one succeeds (or 5 s pass): the time from the
client's start to the first successful connect, the same for every
system. In CMD, and in the values of the environment CMD gets, {i} is the
trial's number plus OFFSET.
While the trials run it samples the server process PID (CPU time with its
reaped children, resident memory) and the packets received on the
server's interface (namespace SRVNS, veth0), and prints one markdown row:

| name | opened | min | median | p90 | p99 | max | kpps at server | server CPU | server RSS |

With TRIALS_LATE="PERIOD MARGIN" (seconds) each trial starts, once the
service is closed, at a time drawn uniformly from the last MARGIN of a
step of PERIOD (steps counted from the Unix epoch, as otpknock's are):
the trials of a knock sent late in its step. With TRIALS_TRACE=FILE it
appends one line per trial to FILE: its number, its start (Unix time),
the step's time left then (ms, or - without TRIALS_LATE), knock-to-open
(ms, or - when it did not open), the probe's connects and the longest
time between two connects' starts (ms): a gap far above the 1 ms bound
is the probe not being scheduled (a busy CPU), not a wait of the knock.

Usage: trials.py N OFFSET NAME HOST PORT PID SRVNS CMD...
"""
import json, os, random, socket, statistics, subprocess, sys, time

n, offset, name, host, port, pid, srvns = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:5], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
cmd = sys.argv[8:]
PROBE = 0.001  # bound of one connect attempt, s


def is_open(timeout):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def cpu():  # utime + stime + cutime + cstime, seconds
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / 100


def rss():  # VmRSS, VmHWM in MiB
    st = dict(l.split(":", 1) for l in open("/proc/%d/status" % pid))
    return int(st["VmRSS"].split()[0]) / 1024, int(st["VmHWM"].split()[0]) / 1024


def rx():
    out = subprocess.run(["ip", "-n", srvns, "-j", "-s", "link", "show", "veth0"], capture_output=True, text=True).stdout
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


late = [float(x) for x in os.environ.get("TRIALS_LATE", "").split()]
trace = open(os.environ["TRIALS_TRACE"], "a") if os.environ.get("TRIALS_TRACE") else None


def late_start():
    """Sleeps until a time drawn from the last margin of a step, the first
    such time still ahead; returns the step's time left then, in ms."""
    period, margin = late
    now = time.time()
    end = (now // period + 1) * period
    at = end - random.uniform(0, margin)
    if at <= now + 0.01:
        end += period
        at = end - random.uniform(0, margin)
    time.sleep(max(0, at - time.time()))
    return (end - time.time()) * 1000


times, fails = [], 0
c0, r0, w0 = cpu(), rx(), time.monotonic()
for i in range(n):
    deadline = time.monotonic() + 15
    while is_open(0.2) and time.monotonic() < deadline:
        time.sleep(0.1)  # wait for the previous grant to expire
    c = [a.replace("{i}", str(i + offset)) for a in cmd]
    env = {k: v.replace("{i}", str(i + offset)) for k, v in os.environ.items()}
    left = late_start() if late else None
    wall, t0 = time.time(), time.monotonic()
    p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    end = t0 + 5
    tries, gap, last = 0, 0.0, t0
    while time.monotonic() < end:
        now = time.monotonic()
        tries, gap, last = tries + 1, max(gap, now - last), now
        if is_open(PROBE):
            break
    t1 = time.monotonic()
    p.wait()
    if t1 >= end:
        fails += 1
    else:
        times.append((t1 - t0) * 1000)
    if trace:
        print("%d %.3f %s %s %d %.1f" % (i + offset, wall, "-" if left is None else "%.0f" % left,
                                         "-" if t1 >= end else "%.1f" % ((t1 - t0) * 1000), tries, gap * 1000), file=trace, flush=True)
c1, r1, w1 = cpu(), rx(), time.monotonic()
mem, hwm = rss()
times.sort()
q = lambda f: times[min(len(times) - 1, int(f * len(times)))] if times else float("nan")
print("| %s | %d/%d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f%% | %.1f (peak %.1f) MiB |" % (
    name, len(times), n, q(0), statistics.median(times) if times else float("nan"), q(0.9), q(0.99),
    q(1), (r1 - r0) / (w1 - w0) / 1000, 100 * (c1 - c0) / (w1 - w0), mem, hwm), flush=True)
