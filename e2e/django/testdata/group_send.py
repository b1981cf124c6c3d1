"""Speaks in a hub chat room from Django: group_send through the project's
channel layer (settings.CHANNEL_LAYERS), as a Django view or task would.

Usage: group_send.py ROOM USER MESSAGE
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")

import django

django.setup()

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

room, user, message = sys.argv[1:4]
layer = get_channel_layer()
async_to_sync(layer.group_send)(
    "chat_" + room,
    {"type": "chat.message", "message": message, "user": user, "room": room},
)
print("SENT", flush=True)
