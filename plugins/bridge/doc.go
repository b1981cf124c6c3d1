// Package bridge is the bundled plugin that makes one room of Telegram
// chats, Discord channels and the browser chat room (plugins/chatroom): a
// message from any side appears on every other side under its author's
// name, an edit or a delete follows it, a reply stays a reply, and nothing
// comes back to where it was written.
//
// The room is the chatroom's layer group "chat_<room>", so the browser side
// needs nothing new. A Bridge has two halves:
//
//   - the chat side, a chat consumer on the routes of the bridged bots,
//     only publishes: a message, an edit or a Discord deletion in an
//     endpoint conversation becomes a room message carrying its origin (the
//     conversation's scope key and the platform's message id) and its hub
//     id, derived from the origin, so an edit or a deletion names the
//     browser line of its message with nothing to look up;
//   - the relay, a plugins.Service, is a member of the room: it records
//     each platform line, edit and deletion in the room's history
//     (chatroom.Remember and its kin), links each message's original in
//     the store's message map and asks every other endpoint's bot, through
//     chat.ActionChannel, for a copy, which the adapter links once sent
//     (chat.Send.HubID). Edits, deletes and replies find the copies through
//     that map, after a restart too.
//
// See README.md for the config, the room messages and the decisions.
package bridge
