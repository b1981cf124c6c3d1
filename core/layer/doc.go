// Package layer is the channel layer: how application instances talk to each
// other across scopes, processes and machines, with Django Channels' API and
// semantics in Go spelling.
//
// Every instance has a channel name; a message sent to it with Send arrives
// in that instance's inbox. Channels can be put into named groups, and
// GroupSend delivers to every member (the chat-room pattern). Fixed channel
// names ("thumbnails") are served by workers calling Receive.
//
// The semantics every backend keeps: a message is a map with a "type" key;
// each channel holds at most its capacity (default 100) and Send to a full
// channel fails with ErrChannelFull, while GroupSend skips a full member and
// counts the drop; messages expire after 60 s and group memberships after
// 86400 s; channels are FIFO; names follow Channels' rules. Delivery is
// at-most-once.
//
// Memory is the embedded backend for one process. Distributed backends (Redis,
// NATS) implement the same Layer interface.
package layer
