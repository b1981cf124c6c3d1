#!/usr/bin/env node
// The echo bot as an external Hub plugin: Node's standard library only.
//
// It speaks docs/plugin-protocol.md on stdin/stdout: greets a conversation,
// echoes what is said ("You said: hello") and remembers the name set with
// /name in the conversation's state, like the bundled Go plugin plugins/echo.
//
// Route it in hub.yaml:
//
//   routes:
//     telegram:
//       - bot: echo
//         consumer: exec
//         options: {name: echo-js, command: [node, examples/plugins/node/echo.js]}
'use strict';

const readline = require('node:readline');

const PROTOCOL = 1;

// Hub is one connection to the hub: messages in, actions out, and calls
// that wait for their answer while other messages queue up.
class Hub {
  constructor() {
    this.queue = [];
    this.wake = null;
    this.closed = false;
    this.calls = new Map(); // id -> resolve
    this.nextId = 0;
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    rl.on('line', (line) => this.receive(line));
    rl.on('close', () => { this.closed = true; this.signal(); });
  }

  receive(line) {
    if (!line.trim()) return;
    let msg;
    try { msg = JSON.parse(line); } catch (e) { console.error(`echo.js: bad line from hub: ${e}`); return; }
    const answer = this.calls.get(msg.id);
    if (answer && (msg.type === 'state.value' || msg.type === 'action.result')) {
      this.calls.delete(msg.id);
      answer(msg);
      return;
    }
    this.queue.push(msg);
    this.signal();
  }

  signal() {
    if (this.wake) { const w = this.wake; this.wake = null; w(); }
  }

  // read resolves to the next message, or null once the hub closed stdin.
  async read() {
    while (this.queue.length === 0) {
      if (this.closed) return null;
      await new Promise((resolve) => { this.wake = resolve; });
    }
    return this.queue.shift();
  }

  write(msg) { process.stdout.write(JSON.stringify(msg) + '\n'); }

  act(scope, action) { this.write({ scope, action }); }

  // call sends an action with an id and resolves to its answer.
  call(scope, action) {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.calls.set(id, (msg) => (msg.error ? reject(new Error(msg.error)) : resolve(msg)));
      this.write({ scope, id, action });
    });
  }

  done(scope, seq) { this.write({ type: 'done', scope, for: seq }); }
}

class Echo {
  constructor(hub) {
    this.hub = hub;
    this.names = new Map(); // scope key -> name, while the scope is open
  }

  async handle(scope, event) {
    switch (event.type) {
      case 'scope.connect': {
        const name = (await this.hub.call(scope, { type: 'state.get', key: 'name' })).value || '';
        this.names.set(scope, name);
        if (!event.resumed) this.hub.act(scope, { type: 'chat.send', text: `[Welcome ${name || 'Anonymous'}!]` });
        break;
      }
      case 'scope.disconnect':
        this.names.delete(scope);
        break;
      case 'chat.message':
        await this.message(scope, event);
        break;
    }
  }

  async message(scope, m) {
    const command = m.command || '';
    const args = m.args || '';
    let text;
    if (command === 'start') {
      text = 'I repeat what you say. /name NAME tells me who you are.';
    } else if (command === 'name' && !args) {
      text = 'Usage: /name NAME';
    } else if (command === 'name') {
      await this.hub.call(scope, { type: 'state.set', key: 'name', value: args });
      this.names.set(scope, args);
      text = `[set your username to ${args}]`;
    } else if (command) {
      text = `Unknown command /${command}. Commands: /name, /start.`;
    } else if (this.names.get(scope)) {
      text = `${this.names.get(scope)}: You said: ${m.text}`;
    } else {
      text = `You said: ${m.text}`;
    }
    this.hub.act(scope, { type: 'chat.send', text, reply_to: m.id });
  }
}

async function main() {
  const hub = new Hub();
  const hello = await hub.read();
  if (!hello || hello.type !== 'hub.hello') throw new Error(`expected hub.hello, got ${JSON.stringify(hello)}`);
  hub.write({ type: 'plugin.hello', protocol: PROTOCOL });
  const bot = new Echo(hub);
  for (let msg; (msg = await hub.read()) !== null;) {
    if (msg.type !== 'event') continue;
    const key = msg.scope.key;
    try {
      await bot.handle(key, msg.event);
    } catch (e) { // one bad event must not end the bot
      console.error(`echo.js: ${msg.event.type} in ${key}: ${e}`);
    }
    hub.done(key, msg.seq);
  }
}

main().catch((e) => { console.error(`echo.js: ${e}`); process.exit(1); });
