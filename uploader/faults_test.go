package uploader

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// One record walks through every fault Graph and the authority can produce, on a TLS Graph and a
// TLS authority, with the uploader's clock injected: each answer must give exactly the scheduled
// delay (backoff with the jitter fixed at 0.5, or a longer Retry-After), the exact requests, and
// the spool state on disk after each attempt. Then a 400 and a 403 go to deadletter/.
func TestUploaderFaultScript(t *testing.T) {
	clk := newFakeClock()
	ev := &events{}
	auth := newAuthority(t, ev)
	var graph *graphServer
	retryAtDate := func(w http.ResponseWriter, r *http.Request) {
		answer(429, "", "Retry-After", clk.Now().Add(90*time.Second).Format(http.TimeFormat))(w, r)
	}
	refuseTokensAfter401 := func(w http.ResponseWriter, r *http.Request) {
		auth.setRefuse(http.StatusServiceUnavailable, "AADSTS90033: A transient error has occurred.", "400")
		answer(401, graphErrorBody("InvalidAuthenticationToken", "Access token validation failure", "r401"))(w, r)
	}
	graph = newGraphServer(t, ev,
		answer(429, graphErrorBody("TooManyRequests", "slow down", "r429"), "Retry-After", "120"),
		retryAtDate,
		answer(503, graphErrorBody("serviceNotAvailable", "try later", "r503")),
		answer(500, graphErrorBody("generalException", "oops", "r500")),
		hang(),
		reset(),
		refuseTokensAfter401,
		answer(200, "", "request-id", "r200"),
		answer(400, graphErrorBody("BadRequest", "Invalid quality record", "r400")),
		answer(403, graphErrorBody("Authorization_RequestDenied", "Insufficient privileges", "r403")),
	)
	cfg := testGraphConfig(auth, graph)
	cfg.Timeout = 300 * time.Millisecond // the hung response ends here
	g := newTestGraphSink(t, cfg, clk, nil, graph.Server)
	dir := t.TempDir()
	u := newTestUploader(t, dir, g, clk, nil)
	ctx := context.Background()
	mustEnqueue(t, u, `{"quality":"a"}`)

	steps := []struct {
		events []string
		wait   time.Duration
		status string // in LastStatus
	}{
		{[]string{"discovery", "token", "graph 429"}, 120 * time.Second, "429"},             // Retry-After 120 beats 7.5 s
		{[]string{"graph 429"}, 90 * time.Second, "429"},                                    // an HTTP date 90 s ahead beats 12.5 s
		{[]string{"graph 503"}, 22500 * time.Millisecond, "serviceNotAvailable"},            // 5 + 0.5·(40−5)
		{[]string{"graph 500"}, 42500 * time.Millisecond, "generalException"},               // 5 + 0.5·(80−5)
		{[]string{"graph hung"}, 82500 * time.Millisecond, "context deadline exceeded"},     // 5 + 0.5·(160−5)
		{[]string{"graph reset"}, 162500 * time.Millisecond, "connection reset"},            // 5 + 0.5·(320−5)
		{[]string{"graph 401", "discovery", "token 503"}, 400 * time.Second, "AADSTS90033"}, // the authority's Retry-After beats 322.5 s
	}
	seen := 0
	for i, st := range steps {
		start := clk.Now()
		u.sendDue(ctx)
		got := ev.list()
		if !slices.Equal(got[seen:], st.events) {
			t.Fatalf("attempt %d: requests %v, want %v", i+1, got[seen:], st.events)
		}
		seen = len(got)
		disk := onDisk(t, dir)
		if len(disk) != 1 || disk[0].Attempts != i+1 || !disk[0].NextAttempt.Equal(start.Add(st.wait)) {
			t.Fatalf("attempt %d: on disk %+v, want attempts %d next %v", i+1, disk, i+1, start.Add(st.wait))
		}
		mustContain(t, disk[0].LastStatus, st.status)
		clk.Advance(st.wait - time.Millisecond)
		if u.sendDue(ctx); len(ev.list()) != seen {
			t.Fatalf("attempt %d: sent again before its time: %v", i+1, ev.list()[seen:])
		}
		clk.Advance(time.Millisecond)
		if i == 6 {
			auth.setRefuse(0, "", "")
		}
	}
	u.sendDue(ctx)
	if got, want := ev.list()[seen:], []string{"discovery", "token", "graph 200"}; !slices.Equal(got, want) {
		t.Fatalf("last attempt: requests %v, want %v", got, want)
	}
	seen = len(ev.list())
	if disk := onDisk(t, dir); len(disk) != 0 {
		t.Fatalf("accepted record still on disk: %+v", disk)
	}

	mustEnqueue(t, u, `{"quality":"b"}`)
	mustEnqueue(t, u, `{"quality":"c"}`)
	u.sendDue(ctx)
	if got, want := ev.list()[seen:], []string{"graph 400", "graph 403"}; !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	if disk := onDisk(t, dir); len(disk) != 0 {
		t.Errorf("pending/ holds %+v after two permanent errors", disk)
	}
	dead := dirNames(t, filepath.Join(dir, dirDeadLetter))
	if len(dead) != 2 {
		t.Fatalf("deadletter/ holds %v, want 2 records", dead)
	}
	for i, want := range []string{"400 BadRequest: Invalid quality record (request-id r400)", "403 Authorization_RequestDenied: Insufficient privileges (request-id r403)"} {
		data, err := os.ReadFile(filepath.Join(dir, dirDeadLetter, dead[i]))
		if err != nil {
			t.Fatal(err)
		}
		e, err := decodeEntry(dead[i][:len(dead[i])-len(".json")], data)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, e.LastStatus, want)
	}
	if st := u.Stats(); st.Uploaded != 1 || st.Retried != 7 || st.DeadLettered != 2 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if got := graph.requests()[len(graph.requests())-3].body; string(got) != `{"quality":"a"}` {
		t.Errorf("accepted body = %s", got)
	}
}
