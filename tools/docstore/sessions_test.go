package main

import "testing"

func TestEndSessionsIsAnsweredByTheGateNotForwarded(t *testing.T) {
	addr, fake, _ := startGate(t, true, func(name string, request message) []message { return ok(request) })
	c := connect(t, addr)
	reply, err := c.call("endSessions")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := parseOpMsg(reply)
	if err != nil {
		t.Fatal(err)
	}
	if okValue, _ := parts.body().Lookup("ok").AsInt64OK(); okValue != 1 {
		t.Fatalf("endSessions answered %v", parts.body())
	}
	if n := len(fake.requests()); n != 0 {
		t.Fatalf("%d requests reached FerretDB, want none", n)
	}
	if _, err := c.call("ping"); err != nil || len(fake.requests()) != 1 {
		t.Fatalf("the next command: %v, %d forwarded", err, len(fake.requests()))
	}
}
