package echo_test

import (
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/echo"
)

// app is echo as the hub runs it: named, so its state has a namespace.
func app() core.Application { return core.Named("echo", echo.New()) }

func TestEcho(t *testing.T) {
	conv := hubtest.Chat(t, app())
	hello := conv.Say("hello")
	conv.Expect("[Welcome Anonymous!]")
	if got := conv.ReceiveSend(); got.Text != "You said: hello" || got.ReplyTo != hello.ID {
		t.Fatalf("got %+v, want a reply to %s", got, hello.ID)
	}
	conv.Say("/start")
	conv.Say("/nope")
	conv.Say("/name")
	conv.Expect(
		"I repeat what you say. /name NAME tells me who you are.",
		"Unknown command /nope. Commands: /name, /start.",
		"Usage: /name NAME",
	)
}

func TestEchoRemembersNameAcrossRestarts(t *testing.T) {
	hub := hubtest.NewHub(t)
	conv := hub.Chat(app(), hubtest.Key("telegram:echo:42"))
	conv.Say("/name Ada")
	conv.Say("again")
	conv.Expect("[Welcome Anonymous!]", "[set your username to Ada]", "Ada: You said: again")

	hub.Restart()
	conv = hub.Chat(app(), hubtest.Key("telegram:echo:42"))
	conv.Say("hi")
	conv.Expect("[Welcome Ada!]", "Ada: You said: hi")

	// Another conversation has its own state.
	other := hub.Chat(app(), hubtest.Key("telegram:echo:43"))
	other.Say("hi")
	other.Expect("[Welcome Anonymous!]", "You said: hi")
}

func TestRegistered(t *testing.T) {
	if _, err := plugins.New("echo", nil); err != nil {
		t.Fatal(err)
	}
}
