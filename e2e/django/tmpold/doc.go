// Package django tests the hub against a real Django Channels 4 project on
// one Redis: the project in testdata (channels_redis' RedisChannelLayer, a
// chat consumer served by daphne, a group_send script) and the real hub
// binary serving the chat room exchange messages in group chat_lobby, both
// ways.
//
// It needs /usr/bin/redis-server and Debian's python3-django-channels,
// python3-channels-redis and python3-daphne for /usr/bin/python3. Without
// them the test is skipped, except in CI (CI=true), where it fails.
package django
