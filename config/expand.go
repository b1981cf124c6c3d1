package config

import (
	"errors"
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in a scalar value. The default
// is used when VAR is unset or empty, as in the shell; an unset VAR without a
// default is an error, so that a missing secret stops the hub instead of
// becoming an empty token. "$${" stands for a literal "${". A lone "$" is
// kept as it is, so passwords with dollars need no escaping.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // "$${" is an escaped "${"
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${ (no closing })")
		}
		val, err := lookupVar(s[i+2:i+end], lookup)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

// lookupVar resolves the inside of one ${…}: "NAME" or "NAME:-default".
func lookupVar(expr string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(expr, ":-")
	if !validVarName(name) {
		return "", fmt.Errorf("invalid environment variable name %q in ${%s} (want letters, digits and _; default with ${NAME:-default})", name, expr)
	}
	val, ok := lookup(name)
	switch {
	case hasDef && val == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (give a default with ${%s:-default})", name, name)
	}
	return val, nil
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
