"""The Django Channels tutorial's chat consumer, on the hub's contract.

A socket at /ws/chat/<room>/ joins the group chat_<room>. A line the client
sends, {"message": ..., "user": ...}, goes to the group as
{"type": "chat.message", "message", "user", "room"}; every chat.message in
the group goes to the client as {"message", "user", "room"}, plus "event":
the layer message exactly as channels_redis decoded it, so a test can see
its keys and types.
"""

import json

from channels.generic.websocket import AsyncWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room = self.scope["url_route"]["kwargs"]["room"]
        self.group = "chat_" + self.room
        # Join before accepting: once the handshake is done, the group holds us.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "chat.message",
                "message": data["message"],
                "user": data.get("user") or "Anonymous",
                "room": self.room,
            },
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps(
                {
                    "message": event["message"],
                    "user": event.get("user", ""),
                    "room": event.get("room", ""),
                    "event": event,
                }
            )
        )
