package chat

import "strings"

// ParseCommand reads a command from message text: "/name args",
// "/name@bot args" or "!name args". A name is letters, digits and
// underscores, and is returned lower-cased. A "/name@other_bot" command
// addressed to another bot in a group is not one for bot (compared without
// case; bot "" accepts any). ok is false when text is not a command.
func ParseCommand(text, bot string) (name, args string, ok bool) {
	if len(text) < 2 || (text[0] != '/' && text[0] != '!') {
		return "", "", false
	}
	word, args, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexAny(word, "\n\t"); i >= 0 { // "/start\nmore" is a command too
		word, args = word[:i], word[i+1:]+" "+args
	}
	word, target, addressed := strings.Cut(word, "@")
	if addressed && (text[0] != '/' || (bot != "" && !strings.EqualFold(target, bot))) {
		return "", "", false
	}
	if word == "" || strings.IndexFunc(word, notCommandRune) >= 0 {
		return "", "", false
	}
	return strings.ToLower(word), strings.TrimSpace(args), true
}

func notCommandRune(r rune) bool {
	return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
}
