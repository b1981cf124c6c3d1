// Package chatroom is Django Channels' tutorial chat, done right, as a
// bundled plugin: a page where people pick a room and a name, and a JSON
// WebSocket consumer that joins them to the room's channel-layer group.
//
// The group is the public contract: every room is the layer group
// "chat_<room>", and a line in it is
//
//	{"type": "chat.message", "message": "hi", "user": "ada", "room": "lobby", "id": "5f0c…"}
//
// so another hub process, a worker, or a Django Channels app sharing the
// Redis layer can join a room or speak in it. Only message is required; id
// names the line for later changes (the hub's own lines always carry one,
// a line without one simply cannot be changed). A publisher, such as a
// bridge (plugins/bridge), may change a line it gave an id:
//
//	{"type": "chat.edited", "id": "5f0c…", "message": "hi all", "user": "ada", "room": "lobby"}
//	{"type": "chat.deleted", "id": "5f0c…", "room": "lobby"}
//
// Each member forwards what the group carries to its client: a line as
// {"id", "message", "user", "room"}, an edit as the same marked
// "edited": true (the client replaces the text of the line with that id,
// or shows a line of its own if it has none), a deletion as
// {"id", "room", "deleted": true} (the client removes the line). An edit
// without an id is shown as a line of its own; a deletion without one is
// dropped.
//
// The newest lines of each room (50 by default) are kept in the
// conversation state of "room:<room>" — SQLite in a real hub — and sent,
// with their ids, to whoever joins, so history survives a restart of the
// hub. The history is a log of appended records (a line, an edit, a
// deletion), replayed for each newcomer, so a change is as atomic as an
// append. Whoever publishes records, once: a member its client's lines,
// the bridge its platforms' lines and their changes (Remember,
// RememberEdit, RememberDelete); a foreign publisher's lines are live only.
package chatroom
