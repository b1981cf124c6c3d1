"""The smallest Django Channels project that chats with the hub.

Only a channel layer and one WebSocket consumer: no database, no apps, no
HTTP views. The Redis URL comes from the environment, so the Go test can
point it at its own redis-server.
"""

import os

SECRET_KEY = "e2e-django-interop-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = []
DATABASES = {}
USE_TZ = True
ASGI_APPLICATION = "djproject.asgi.application"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": os.environ["HUB_DJANGO_REDIS_HOSTS"].split(","),
        },
    },
}
