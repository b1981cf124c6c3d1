"""A plugin for the exec tests: it answers "got TEXT", checks that every
scope's events arrive in order, and misbehaves on request.

    --protocol N   answer the handshake with protocol N
    --garbage      print lines that are not protocol messages before hello

Messages: /noack (never acknowledged), /garbage (invalid lines, then an
answer), /crash (exit 3), /stderr (a line on stderr), /pid, /join (the group
"room"), /shout TEXT (to the room), /sendid (a send that asks for its id),
/state (a value stored and read back).
"""
import json
import os
import sys

args = sys.argv[1:]
protocol = int(args[args.index("--protocol") + 1]) if "--protocol" in args else 1


def write(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def send(key, text):
    write({"scope": key, "action": {"type": "chat.send", "text": text}})


hello = json.loads(sys.stdin.readline())
assert hello["type"] == "hub.hello", hello
if "--garbage" in args:
    print("this is not JSON")
    print('{"type": "nonsense"}')
write({"type": "plugin.hello", "protocol": protocol})

last_seq, last_id = {}, {}
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("type") in ("action.result", "state.value"):
        # Answers are addressed by id: here, the scope key.
        if "error" in msg:
            send(msg["id"], "error " + msg["error"])
        elif msg["type"] == "state.value":
            send(msg["id"], "value " + json.dumps(msg["value"]))
        else:
            send(msg["id"], "sent as " + msg.get("message_id", ""))
        continue
    if msg.get("type") != "event":
        continue
    key, ev, seq = msg["scope"]["key"], msg["event"], msg["seq"]
    if seq <= last_seq.get(key, 0):
        send(key, f"OUT OF ORDER: seq {seq} after {last_seq[key]}")
    last_seq[key] = seq
    if ev["type"] == "chat.message":
        n = int(ev["id"])
        if n <= last_id.get(key, 0):
            send(key, f"OUT OF ORDER: message {n} after {last_id[key]}")
        last_id[key] = n
        text = ev["text"]
        if text == "/noack":
            continue
        if text == "/crash":
            sys.exit(3)
        if text == "/pid":
            send(key, str(os.getpid()))
        elif text == "/join":
            write({"scope": key, "action": {"type": "layer.group_add", "group": "room"}})
            send(key, "joined")
        elif text.startswith("/shout "):
            write({"scope": key, "action": {"type": "layer.group_send", "group": "room",
                                            "message": {"type": "room.shout", "text": text[7:]}}})
        elif text == "/sendid":
            write({"scope": key, "id": key, "action": {"type": "chat.send", "text": "first"}})
        elif text == "/state":
            write({"scope": key, "action": {"type": "state.set", "key": "k", "value": {"a": [1, 2]}}})
            write({"scope": key, "id": key, "action": {"type": "state.get", "key": "k"}})
        elif text == "/stderr":
            print("hello from stderr", file=sys.stderr, flush=True)
            send(key, "logged")
        elif text == "/garbage":
            print("}{ not json")
            print("[1, 2")
            print("x" * (2 << 20))
            print('{"type": "unknown.kind"}')
            print('{"scope": "no-such-scope", "action": {"type": "chat.send", "text": "lost"}}')
            write({"scope": key, "action": {"type": "no.such.action"}})
            send(key, "still here")
        else:
            send(key, "got " + text)
    elif ev["type"] == "room.shout":
        send(key, "heard " + ev["text"])
    write({"type": "done", "scope": key, "for": seq})
