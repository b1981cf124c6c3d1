"""Speaks in a hub chat room from Django: group_send through the project's
channel layer (settings.CHANNEL_LAYERS), as a Django view or task would.

Usage: group_send.py [--wait] ROOM USER MESSAGE

With --wait it sets Django up, prints READY, and sends once a line arrives
on stdin, so a test can pay Django's start-up while other things start.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")

import django

django.setup()

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

args = sys.argv[1:]
wait = args[:1] == ["--wait"]
if wait:
    args = args[1:]
room, user, message = args
layer = get_channel_layer()
if wait:
    print("READY", flush=True)
    if not sys.stdin.readline():
        sys.exit("stdin closed before the go-ahead")
async_to_sync(layer.group_send)(
    "chat_" + room,
    {"type": "chat.message", "message": message, "user": user, "room": room},
)
print("SENT", flush=True)
