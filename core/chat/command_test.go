package chat

import "testing"

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text, bot  string
		name, args string
		ok         bool
	}{
		{"/start", "hub_bot", "start", "", true},
		{"/name Ada Lovelace", "hub_bot", "name", "Ada Lovelace", true},
		{"/Name@Hub_Bot  Ada ", "hub_bot", "name", "Ada", true},
		{"/name@other_bot Ada", "hub_bot", "", "", false},
		{"/name@any Ada", "", "name", "Ada", true},
		{"!help me", "hub_bot", "help", "me", true},
		{"!help@hub_bot", "hub_bot", "", "", false},
		{"/start\npayload", "", "start", "payload", true},
		{"/", "", "", "", false},
		{"!!!", "", "", "", false},
		{"/ start", "", "", "", false},
		{"/path/to/file", "", "", "", false},
		{"hello /start", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tt := range tests {
		name, args, ok := ParseCommand(tt.text, tt.bot)
		if name != tt.name || args != tt.args || ok != tt.ok {
			t.Errorf("ParseCommand(%q, %q) = %q, %q, %v; want %q, %q, %v", tt.text, tt.bot, name, args, ok, tt.name, tt.args, tt.ok)
		}
	}
}
