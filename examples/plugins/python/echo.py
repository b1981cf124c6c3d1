#!/usr/bin/env python3
"""The echo bot as an external Hub plugin: standard library only.

It speaks docs/plugin-protocol.md on stdin/stdout: greets a conversation,
echoes what is said ("You said: hello") and remembers the name set with
/name in the conversation's state, like the bundled Go plugin plugins/echo.

Route it in hub.yaml:

    routes:
      telegram:
        - bot: echo
          consumer: exec
          options: {name: echo-py, command: [python3, examples/plugins/python/echo.py]}
"""

import json
import sys

PROTOCOL = 1


class Hub:
    """One connection to the hub: read messages, send actions, ask for state."""

    def __init__(self, inp=sys.stdin, out=sys.stdout):
        self.inp, self.out = inp, out
        self.pending = []  # messages read while waiting for an answer
        self.next_id = 0

    def write(self, msg):
        self.out.write(json.dumps(msg) + "\n")
        self.out.flush()

    def read(self):
        """The next message from the hub, or None at end of input."""
        if self.pending:
            return self.pending.pop(0)
        while True:
            line = self.inp.readline()
            if not line:
                return None
            if line.strip():
                return json.loads(line)

    def handshake(self, name):
        hello = self.read()
        if not hello or hello.get("type") != "hub.hello":
            raise SystemExit(f"{name}: expected hub.hello, got {hello!r}")
        if hello.get("protocol") != PROTOCOL:
            print(f"{name}: hub speaks protocol {hello.get('protocol')}, I speak {PROTOCOL}", file=sys.stderr)
        self.write({"type": "plugin.hello", "protocol": PROTOCOL})

    def act(self, scope, action):
        self.write({"scope": scope, "action": action})

    def call(self, scope, action):
        """Send an action with an id and wait for its answer; other messages
        that arrive meanwhile are kept for read()."""
        self.next_id += 1
        want = self.next_id
        self.write({"scope": scope, "id": want, "action": action})
        while True:
            line = self.inp.readline()
            if not line:
                raise SystemExit(0)
            if not line.strip():
                continue
            msg = json.loads(line)
            if msg.get("id") == want and msg.get("type") in ("state.value", "action.result"):
                if msg.get("error"):
                    raise RuntimeError(msg["error"])
                return msg
            self.pending.append(msg)

    def done(self, scope, seq):
        self.write({"type": "done", "scope": scope, "for": seq})


class Echo:
    def __init__(self, hub):
        self.hub = hub
        self.names = {}  # scope key -> name, while the scope is open

    def handle(self, scope, event):
        kind = event["type"]
        if kind == "scope.connect":
            name = self.hub.call(scope, {"type": "state.get", "key": "name"}).get("value") or ""
            self.names[scope] = name
            if not event.get("resumed"):
                self.hub.act(scope, {"type": "chat.send", "text": f"[Welcome {name or 'Anonymous'}!]"})
        elif kind == "scope.disconnect":
            self.names.pop(scope, None)
        elif kind == "chat.message":
            self.message(scope, event)

    def message(self, scope, m):
        command, args = m.get("command", ""), m.get("args", "")
        if command == "start":
            text = "I repeat what you say. /name NAME tells me who you are."
        elif command == "name" and not args:
            text = "Usage: /name NAME"
        elif command == "name":
            self.hub.call(scope, {"type": "state.set", "key": "name", "value": args})
            self.names[scope] = args
            text = f"[set your username to {args}]"
        elif command:
            text = f"Unknown command /{command}. Commands: /name, /start."
        elif self.names.get(scope):
            text = f"{self.names[scope]}: You said: {m['text']}"
        else:
            text = f"You said: {m['text']}"
        self.hub.act(scope, {"type": "chat.send", "text": text, "reply_to": m["id"]})


def main():
    hub = Hub()
    hub.handshake("echo.py")
    bot = Echo(hub)
    while True:
        msg = hub.read()
        if msg is None:
            return  # the hub closed stdin: time to go
        if msg.get("type") != "event":
            continue
        key = msg["scope"]["key"]
        try:
            bot.handle(key, msg["event"])
        except Exception as e:  # one bad event must not end the bot
            print(f"echo.py: {msg['event'].get('type')} in {key}: {e!r}", file=sys.stderr)
        hub.done(key, msg["seq"])


if __name__ == "__main__":
    main()
