"""ASGI entry point for daphne: WebSockets only, routed to ChatConsumer."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")

import django

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from djproject.consumers import ChatConsumer

application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [path("ws/chat/<str:room>/", ChatConsumer.as_asgi())]
        ),
    }
)
