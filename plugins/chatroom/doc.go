// Package chatroom is Django Channels' tutorial chat, done right, as a
// bundled plugin: a page where people pick a room and a name, and a JSON
// WebSocket consumer that joins them to the room's channel-layer group.
//
// The group is the public contract: every room is the layer group
// "chat_<room>", and a message in it is
//
//	{"type": "chat.message", "message": "hi", "user": "ada", "room": "lobby"}
//
// so another hub process, a worker, or a Django Channels app sharing the
// Redis layer can join a room or speak in it. Each member forwards what the
// group carries to its client as {"message", "user", "room"}; a bridge's
// "chat.edited" goes out the same way marked "edited", its "chat.deleted"
// is dropped.
//
// The newest messages of each room (50 by default) are kept in the
// conversation state of "room:<room>" — SQLite in a real hub — and sent to
// whoever joins, so history survives a restart of the hub.
package chatroom
