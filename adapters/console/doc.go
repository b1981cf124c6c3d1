// Package console is the smallest chat adapter: one conversation between
// the person at a terminal and the hub's chat consumers. Each line read is a
// chat.Message (platform "console", scope key "console:<user>"), and each
// action the consumer takes is written as a line, so a consumer written for
// Telegram or Discord runs here unchanged — which is what `hub chat` is for:
// trying a bot without a bot token.
//
// The conversation's state lives in the runtime's store under its scope key,
// so what a consumer remembers (echo's /name) survives from one run to the
// next, as it would on a real platform. The adapter takes any io.Reader and
// io.Writer, so tests and other programs can drive it as a library.
package console
