#!/usr/bin/python3
"""The seed's ways of using WinRM with pywinrm: the baseline for labops' WinRM benchmarks.

stdin: JSON list of {"address", "port", "user", "password"[, "ssl": bool, "transport": "ntlm"|"basic"]}
argv:  [LabStation command and args], default: status-json   -> one run_cmd per host, host after host
       --heartbeat      -> per host run_ps Get-Content of heartbeat.json, then of the events file, json.loads both
                           (the ops-worker's sequential poll)
       --session N [command and args]  -> one Session on the first host, one untimed warm-up run_cmd, then N
                           timed run_cmd calls on it (the ops-worker's /api/winrm on a warm process)
stdout: one JSON line {"hosts", "ok", "failed", "seconds"[, "calls_ms"]}; run with /usr/bin/python3 (Debian's
        python3-winrm).
"""
import json
import os
import sys
import tempfile
import time

# ntlm-auth needs hashlib MD4, which OpenSSL 3 keeps in its legacy provider; enable it before hashlib loads.
if "OPENSSL_CONF" not in os.environ:
    conf = tempfile.NamedTemporaryFile("w", suffix=".cnf", delete=False)
    conf.write("openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\n"
               "default = default_sect\nlegacy = legacy_sect\n[default_sect]\nactivate = 1\n[legacy_sect]\nactivate = 1\n")
    conf.close()
    os.environ["OPENSSL_CONF"] = conf.name
# the requests CA-bundle variables override server_cert_validation='ignore' in pywinrm 0.3
os.environ.pop("REQUESTS_CA_BUNDLE", None)
os.environ.pop("CURL_CA_BUNDLE", None)

import winrm  # noqa: E402

EXE = r"C:\LabStation\LabStation.exe"
HEARTBEAT = r"C:\LabStation\labstation\data\telemetry\heartbeat.json"
EVENTS = r"C:\LabStation\labstation\data\telemetry\session-guard-events.jsonl"

args = sys.argv[1:]
heartbeat_mode = args[:1] == ["--heartbeat"]
session_calls = int(args[1]) if args[:1] == ["--session"] else 0
command = args[2:] if session_calls else args
command = command or ["status-json"]
hosts = json.load(sys.stdin)


def open_session(h):
    ssl = h.get("ssl", False)
    endpoint = "%s://%s:%d/wsman" % ("https" if ssl else "http", h["address"], h["port"])
    kwargs = {"auth": (h["user"], h["password"]), "transport": h.get("transport", "ntlm")}
    if ssl:
        kwargs["server_cert_validation"] = "ignore"
    return winrm.Session(endpoint, **kwargs)


def run_command(session):
    r = session.run_cmd(EXE, command)
    if r.status_code == 0 and command[0] == "status-json":
        json.loads(r.std_out.decode("utf-8", "ignore") or "null")
    return r.status_code == 0


ok = failed = 0
calls_ms = []
start = time.monotonic()
if session_calls:
    session = open_session(hosts[0])
    run_command(session)
    start = time.monotonic()
    for _ in range(session_calls):
        t = time.monotonic()
        if run_command(session):
            ok += 1
        else:
            failed += 1
        calls_ms.append(round((time.monotonic() - t) * 1000, 2))
else:
    for h in hosts:
        try:
            session = open_session(h)
            if heartbeat_mode:
                r = session.run_ps("Get-Content -LiteralPath '%s' -Raw -Encoding UTF8" % HEARTBEAT)
                if r.status_code == 0:
                    json.loads(r.std_out.decode("utf-8", "ignore"))
                    try:
                        ev = session.run_ps("Get-Content -LiteralPath '%s' -Raw -Encoding UTF8" % EVENTS)
                        lines = [l for l in ev.std_out.decode("utf-8", "ignore").splitlines() if l.strip()]
                        if lines:
                            json.loads(lines[-1])
                    except Exception:  # noqa: BLE001 - the ops-worker only warns about the events file
                        pass
                    ok += 1
                else:
                    failed += 1
                continue
            if run_command(session):
                ok += 1
            else:
                failed += 1
        except Exception as e:  # noqa: BLE001 - a benchmark counts failures, it does not stop
            failed += 1
            print("%s: %s" % (h["address"], e), file=sys.stderr)
out = {"hosts": len(hosts), "ok": ok, "failed": failed, "seconds": round(time.monotonic() - start, 3)}
if session_calls:
    out["calls_ms"] = calls_ms
print(json.dumps(out))
