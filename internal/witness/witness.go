package witness

import (
	"strconv"
	"strings"
)

// Line is how the witness reports a socket to the journal: connection key
// had carried n bytes from the hub when the hub went away.
//
//	C <key> <n>
func Line(key string, n int64) string {
	return "C " + key + " " + strconv.FormatInt(n, 10) + "\n"
}

// ParseLine reads a line Line wrote (without its newline).
func ParseLine(text string) (key string, n int64, ok bool) {
	rest, ok := strings.CutPrefix(text, "C ")
	if !ok {
		return "", 0, false
	}
	key, num, ok := strings.Cut(rest, " ")
	if !ok || key == "" {
		return "", 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return key, n, err == nil
}

// LockPath is the lock file a witness for the journal at journalPath holds
// while it lives and has lines to write.
func LockPath(journalPath string) string { return journalPath + ".witness" }
