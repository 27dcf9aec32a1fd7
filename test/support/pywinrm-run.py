# Runs commands with Debian's pywinrm (the independent client) and prints the results as JSON.
# Input on stdin (so the password is never in argv):
#   {"endpoint", "transport", "user", "password", "cert_validation": "ignore"|"validate", "ca": path|null,
#    "ops": [{"kind": "cmd", "exe": ..., "args": [...]} | {"kind": "ps", "script": ...}]}
import json
import sys

import winrm

req = json.load(sys.stdin)
kwargs = dict(auth=(req["user"], req["password"]), transport=req["transport"])
if req["endpoint"].startswith("https"):
    kwargs["server_cert_validation"] = req.get("cert_validation", "validate")
    if req.get("ca"):
        kwargs["ca_trust_path"] = req["ca"]
session = winrm.Session(req["endpoint"], **kwargs)
out = []
for op in req["ops"]:
    try:
        if op["kind"] == "cmd":
            r = session.run_cmd(op["exe"], op.get("args", []))
        else:
            r = session.run_ps(op["script"])
        out.append({"status_code": r.status_code, "std_out": r.std_out.decode("utf-8", "replace"), "std_err": r.std_err.decode("utf-8", "replace") if isinstance(r.std_err, bytes) else r.std_err})
    except Exception as e:  # noqa: BLE001 - report every failure to the test
        out.append({"error": type(e).__name__ + ": " + str(e)})
json.dump(out, sys.stdout)
