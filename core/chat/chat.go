package chat

// Message is a new message in a conversation ("chat.message").
type Message struct {
	// ID is the platform's id of the message, unique within its chat.
	ID string
	// Text is the message text, or a media message's caption.
	Text   string
	Sender Sender
	Chat   Chat
	// ReplyTo is the message this one answers, if any.
	ReplyTo     *MessageRef
	Attachments []Attachment
	// Command is set when the message is a command ("/start",
	// "/start@this_bot", "!help"): its name, lower-cased and without the
	// prefix or bot name; Args is the rest of the text, trimmed.
	Command string
	Args    string
	// Platform is the adapter's protocol ("telegram") and Bot the name of the
	// bot the message came through.
	Platform string
	Bot      string
	// Raw is the platform's own update, for what the common form lacks.
	Raw any
}

// Edited is a message that was changed; it carries the new version
// ("chat.edited").
type Edited struct{ Message }

// Disconnect ends a conversation's scope: it went idle, or the hub is
// shutting down ("chat.disconnect"). It is always the scope's last event; the
// conversation's state outlives it.
type Disconnect struct {
	// Reason is "idle" or "shutdown".
	Reason string
}

// Sender is who wrote a message.
type Sender struct {
	ID string
	// Name is the display name ("Ada Lovelace"); Username the handle
	// without "@", if the platform has one.
	Name     string
	Username string
	IsBot    bool
}

// Chat is the conversation a message belongs to.
type Chat struct {
	ID    string
	Title string
	// Private is true for a one-to-one conversation with the bot.
	Private bool
	// Thread is the forum topic or thread within the chat, if any.
	Thread string
}

// MessageRef points to another message, such as the one replied to.
type MessageRef struct {
	ID     string
	Text   string
	Sender Sender
}

// Attachment is a file sent with a message. Platforms that address files by
// id (Telegram) set FileID; those that serve them by URL set URL.
type Attachment struct {
	// Kind is "photo", "document", "audio", "voice", "video", "sticker", …
	Kind   string
	Name   string
	MIME   string
	Size   int64
	URL    string
	FileID string
}

// Send posts a message in the scope's conversation ("chat.send").
type Send struct {
	Text string
	// ReplyTo is the id of the message answered, or "".
	ReplyTo string
	// Sent, if not nil, receives the new message's id once the platform
	// has accepted it, so the consumer can edit or delete it later.
	Sent *string
	// HubID, if set, names the hub message this one is a copy of: once the
	// platform has accepted it, the adapter links it to HubID in the
	// store's message map (store.MessageLink), so a later edit, delete or
	// reply of the hub message finds it, after a restart too.
	HubID string
}

// Edit changes the text of a message the bot sent ("chat.edit").
type Edit struct {
	MessageID string
	Text      string
}

// Delete removes a message ("chat.delete").
type Delete struct{ MessageID string }

// React sets the bot's reaction on a message; an empty Emoji removes it
// ("chat.react").
type React struct {
	MessageID string
	Emoji     string
}

// Typing shows that the bot is writing ("chat.typing"); platforms clear it
// by themselves after a few seconds or when the bot's message arrives.
type Typing struct{}

// Type implements core.Event.
func (Message) Type() string    { return "chat.message" }
func (Edited) Type() string     { return "chat.edited" }
func (Disconnect) Type() string { return "chat.disconnect" }
func (Send) Type() string       { return "chat.send" }
func (Edit) Type() string       { return "chat.edit" }
func (Delete) Type() string     { return "chat.delete" }
func (React) Type() string      { return "chat.react" }
func (Typing) Type() string     { return "chat.typing" }
