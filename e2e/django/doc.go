// Package django tests the hub against a real Django Channels 4 project on
// one Redis: the project in testdata (channels_redis' RedisChannelLayer, a
// chat consumer served by daphne, a group_send script) and the real hub
// binary serving the chat room exchange messages in group chat_lobby, both
// ways:
//
//   - Django's channel_layer.group_send("chat_lobby", {"type": "chat.message",
//     …}) reaches the hub's WebSocket clients of room lobby;
//   - a line typed in the hub's room reaches Django's ChatConsumer (served by
//     `python3 -m daphne`, which has joined chat_lobby) and its WebSocket
//     client, with the layer message intact;
//   - a line typed to Django's consumer reaches the hub's clients.
//
// It needs /usr/bin/redis-server and Debian's python3-django-channels,
// python3-channels-redis and python3-daphne for /usr/bin/python3 (which
// scripts/test.sh installs). Without them the test is skipped, except in CI
// (CI=true), where it fails. Run it alone with
//
//	GOFLAGS=-tags=libsqlite3 go test -v ./e2e/django
//
// The project runs by hand too, on any Redis:
//
//	cd e2e/django/testdata
//	export HUB_DJANGO_REDIS_HOSTS=redis://127.0.0.1:6379/0
//	python3 -m daphne -p 8001 djproject.asgi:application   # ws://127.0.0.1:8001/ws/chat/lobby/
//	python3 group_send.py lobby dj "hello from django"
package django
