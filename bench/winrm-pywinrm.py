#!/usr/bin/python3
"""The seed's way of polling: pywinrm, one host after another (baseline for labops' WinRM benchmarks).

stdin: JSON list of {"address", "port", "user", "password"[, "ssl": bool, "transport": "ntlm"|"basic"]}
argv:  [LabStation command and args], default: status-json; or --heartbeat: read heartbeat.json and the
       events file with run_ps Get-Content and json.loads them, as the ops-worker's poll does
stdout: one JSON line {"hosts", "ok", "failed", "seconds"}; run with /usr/bin/python3 (Debian's python3-winrm).
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
command = sys.argv[1:] or ["status-json"]
heartbeat_mode = command[0] == "--heartbeat"
hosts = json.load(sys.stdin)
ok = failed = 0
start = time.monotonic()
for h in hosts:
    ssl = h.get("ssl", False)
    endpoint = "%s://%s:%d/wsman" % ("https" if ssl else "http", h["address"], h["port"])
    kwargs = {"auth": (h["user"], h["password"]), "transport": h.get("transport", "ntlm")}
    if ssl:
        kwargs["server_cert_validation"] = "ignore"
    try:
        session = winrm.Session(endpoint, **kwargs)
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
        r = session.run_cmd(EXE, command)
        if r.status_code == 0:
            json.loads(r.std_out.decode("utf-8", "ignore") or "null") if command[0] == "status-json" else None
            ok += 1
        else:
            failed += 1
    except Exception as e:  # noqa: BLE001 - a benchmark counts failures, it does not stop
        failed += 1
        print("%s: %s" % (h["address"], e), file=sys.stderr)
print(json.dumps({"hosts": len(hosts), "ok": ok, "failed": failed, "seconds": round(time.monotonic() - start, 3)}))
