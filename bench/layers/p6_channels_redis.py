"""P6, Python side: channels_redis group_send, the same workload as the Go
side of bench/layers (p6.go). Run by `go run ./bench/layers p6` with
/usr/bin/python3 (Debian's python3-channels-redis); prints one JSON object.

    python3 p6_channels_redis.py URL PREFIX MEMBERS COUNT ROUNDS WINDOW SIZE SENDERS
"""
import asyncio
import json
import sys
import time

from channels_redis.core import RedisChannelLayer


def dist(samples):
    samples.sort()
    n = len(samples)
    return {"n": n, "p50_ns": samples[n // 2], "p99_ns": samples[n * 99 // 100], "max_ns": samples[-1]}


async def main():
    url, prefix = sys.argv[1], sys.argv[2]
    members, count, rounds, window, size, senders = map(int, sys.argv[3:9])
    # Two layers, as two processes would have: the sender's and the receivers'.
    sender = RedisChannelLayer(hosts=[url], prefix=prefix)
    receiver = RedisChannelLayer(hosts=[url], prefix=prefix)
    group = "p6"
    channels = [await receiver.new_channel() for _ in range(members)]
    for ch in channels:
        await sender.group_add(group, ch)

    total = 1 + count + rounds  # one warm-up message
    counts = [0] * total
    lat = []  # latencies of the current phase
    # state["window"] holds a token per group send not yet received by every
    # member: a sender takes one before sending, the member completing it
    # gives it back.
    state = {"last": 0, "window": None}

    async def receive(ch):
        while True:
            msg = await receiver.receive(ch)
            now = time.time_ns()
            lat.append(now - msg["ts"])
            seq = msg["seq"]
            counts[seq] += 1
            if counts[seq] == members:
                state["last"] = now
                state["window"].release()

    tasks = [asyncio.create_task(receive(ch)) for ch in channels]
    pad = "x" * size
    nxt = 0

    async def run(n, inflight, nsenders):
        nonlocal nxt
        lat.clear()
        window = state["window"] = asyncio.Semaphore(inflight)
        end = nxt + n
        start = time.time_ns()
        cpu0 = time.process_time()

        async def send():
            nonlocal nxt
            while nxt < end:
                seq = nxt
                nxt += 1
                await asyncio.wait_for(window.acquire(), 10)
                await sender.group_send(group, {"type": "bench.message", "seq": seq, "ts": time.time_ns(), "text": pad})

        await asyncio.gather(*(send() for _ in range(nsenders)))
        for _ in range(inflight):  # every token back: every send complete
            await asyncio.wait_for(window.acquire(), 10)
        cpu = time.process_time() - cpu0
        return {"messages": n, "deliveries": len(lat), "elapsed_ns": state["last"] - start,
                "cpu_ns": int(cpu * 1e9), **dist(list(lat))}

    await run(1, 1, 1)  # warm-up: connections and the receive loop
    tput = await run(count, window, senders)
    rnd = await run(rounds, 1, 1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await sender.flush()
    print(json.dumps({"impl": "channels_redis", "throughput": tput, "rounds": rnd}))


asyncio.run(main())
