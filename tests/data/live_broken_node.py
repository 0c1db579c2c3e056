"""A broken lin-kv node for the live-mode tests: it acknowledges a write at once and only then
copies it to the other nodes, and answers reads from its own copy -- fast, and not linearizable
as soon as a copy is late (a partition makes it late for a second). At start it also writes a
line that is not JSON and a message to a node that does not exist, which the harness counts."""

import json
import sys

me, others, data = None, [], {}


def send(dest, body):
    sys.stdout.write(json.dumps({"src": me, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    body, src = msg["body"], msg["src"]
    kind, answer = body["type"], {"in_reply_to": body.get("msg_id")}
    if kind == "init":
        me = body["node_id"]
        others = [n for n in body["node_ids"] if n != me]
        send(src, {"type": "init_ok", **answer})
        print("this line is not JSON", flush=True)
        send("n99", {"type": "hello"})
    elif kind == "write":
        data[body["key"]] = body["value"]
        send(src, {"type": "write_ok", **answer})
        for node in others:
            send(node, {"type": "copy", "key": body["key"], "value": body["value"]})
    elif kind == "copy":
        data[body["key"]] = body["value"]
    elif kind == "read":
        if body["key"] in data:
            send(src, {"type": "read_ok", "value": data[body["key"]], **answer})
        else:
            send(src, {"type": "error", "code": 20, **answer})
    else:
        send(src, {"type": "error", "code": 10, **answer})
