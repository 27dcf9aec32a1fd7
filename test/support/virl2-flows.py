"""Runs the flows other tools use through Cisco's own CML client library (virl2-client, not vendored here: its
checkout is on sys.path through PYTHONPATH) against a controller, and prints what it saw as one JSON document.
stdin: {"url", "ca", "admin": [user, password], "user": [user, password]}."""
import json
import sys
import traceback


def flows(req):
    from virl2_client import ClientLibrary
    from virl2_client.exceptions import LabNotFound

    admin = ClientLibrary(req["url"], *req["admin"], ssl_verify=req["ca"], raise_for_auth_failure=True)
    out = {"labs": []}
    # "list all labs": the id list, then each lab joined through its topology
    for lab in admin.all_labs(show_all=True):
        nodes = lab.nodes()
        out["labs"].append({
            "id": lab.id,
            "title": lab.title,
            "owner": lab.owner,
            "state": lab.state(),
            "nodes": len(nodes),
            "links": len(lab.links()),
            "interfaces": sum(len(n.interfaces()) for n in nodes),
            "node_states": sorted({n.state for n in nodes}),
            "details": {k: lab.details()[k] for k in ("node_count", "link_count", "state")},
        })
    # "join an existing lab" from a fresh client, and a lab that does not exist
    first = out["labs"][0]["id"]
    fresh = ClientLibrary(req["url"], *req["admin"], ssl_verify=req["ca"])
    out["joined"] = fresh.join_existing_lab(first).title
    try:
        fresh.join_existing_lab("00000000-0000-4000-8000-000000000000")
        out["missing"] = "joined"
    except LabNotFound:
        out["missing"] = "LabNotFound"
    out["users"] = sorted(u["username"] for u in admin.user_management.users())
    out["groups"] = {g["name"]: len(g["members"]) for g in admin.group_management.groups()}
    out["computes"] = sorted(c.hostname for c in admin.system_management.compute_hosts.values())
    out["controller"] = admin.system_management.controller.hostname
    out["health_valid"] = admin.get_system_health()["valid"]
    out["stats_keys"] = sorted(admin.get_system_stats())
    out["licensing"] = admin.licensing.status()["registration"]["status"]
    out["by_title"] = [lab.id for lab in admin.find_labs_by_title(out["labs"][-1]["title"])]
    user = ClientLibrary(req["url"], *req["user"], ssl_verify=req["ca"])
    out["user_own"] = sorted(user.get_lab_list())
    out["user_all"] = sorted(user.get_lab_list(show_all=True))
    return out


def main():
    req = json.load(sys.stdin)
    try:
        result = flows(req)
    except Exception as e:  # noqa: BLE001 - reported to the test, which shows it
        result = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
