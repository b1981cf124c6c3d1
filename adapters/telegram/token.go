package telegram

import "github.com/hubhq/hub/core/chat"

// Token is a bot token that prints, logs and marshals as "[redacted]".
type Token = chat.Token
