package uploader

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

func openTestSpool(t *testing.T, dir string, clk *fakeClock) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, nil)
	if err != nil {
		t.Fatalf("OpenSpool: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if clk != nil {
		s.now = clk.Now
	}
	return s
}

// reopen closes s and opens its directory again, as the next start of the agent would.
func reopen(t *testing.T, s *Spool, clk *fakeClock) *Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openTestSpool(t, s.dir, clk)
}

// onDisk decodes the files in pending/, oldest first, without taking the lock: what another
// process, or the next start, would find.
func onDisk(t *testing.T, dir string) []Entry {
	t.Helper()
	var out []Entry
	for _, name := range dirNames(t, filepath.Join(dir, dirPending)) {
		it, ok := readItem(dir, StatePending, name)
		if !ok || it.Err != nil {
			t.Fatalf("pending/%s: %v", name, it.Err)
		}
		out = append(out, it.Entry)
	}
	return out
}

func mustPut(t *testing.T, s *Spool, body string) Entry {
	t.Helper()
	e, err := s.Put([]byte(body))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return e
}

func ids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range ents {
		names = append(names, de.Name())
	}
	return names
}

func TestSpoolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	s := openTestSpool(t, dir, clk)

	first := mustPut(t, s, `{"quality":{"n":1}}`)
	clk.Advance(time.Second)
	second := mustPut(t, s, `{"quality":{"n":2}}`)

	if got := s.Pending(); !slices.Equal(ids(got), []string{first.ID, second.ID}) {
		t.Fatalf("Pending ids = %v, want [%s %s]", ids(got), first.ID, second.ID)
	}
	if !first.CreatedAt.Equal(clk.Now().Add(-time.Second)) || !first.NextAttempt.Equal(first.CreatedAt) {
		t.Errorf("first: CreatedAt %v NextAttempt %v, want both %v", first.CreatedAt, first.NextAttempt, clk.Now().Add(-time.Second))
	}

	upd := first
	upd.Attempts = 2
	upd.NextAttempt = clk.Now().Add(time.Minute)
	upd.LastStatus = "503 serviceUnavailable"
	if err := s.Update(upd); err != nil {
		t.Fatalf("Update: %v", err)
	}

	// A second process sees the update: it was on disk, not only in memory.
	s2 := reopen(t, s, clk)
	got := s2.Pending()
	if len(got) != 2 {
		t.Fatalf("reopened spool has %d entries, want 2", len(got))
	}
	g := got[0]
	if g.ID != first.ID || g.Attempts != 2 || !g.NextAttempt.Equal(upd.NextAttempt) ||
		g.LastStatus != upd.LastStatus || !g.CreatedAt.Equal(first.CreatedAt) || string(g.Body) != `{"quality":{"n":1}}` {
		t.Errorf("reopened entry = %+v, want the update of %+v", g, upd)
	}

	if err := s2.Delete(first.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, dirPending, first.ID+".json")); !os.IsNotExist(err) {
		t.Errorf("deleted entry file still there: %v", err)
	}
	s3 := reopen(t, s2, clk)
	if got := ids(s3.Pending()); !slices.Equal(got, []string{second.ID}) {
		t.Errorf("after Delete, reopened Pending = %v, want [%s]", got, second.ID)
	}
	if err := s3.Update(first); err == nil {
		t.Error("Update of a deleted entry succeeded")
	}
}

// IDs must keep creation order even when the clock stalls or steps back between two calls.
func TestSpoolReopenKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	s := openTestSpool(t, dir, clk)
	var want []string
	steps := []time.Duration{0, 0, time.Millisecond, -time.Hour, 0, time.Second}
	for i, d := range steps {
		clk.Advance(d)
		e := mustPut(t, s, `{"quality":{}}`)
		if i > 0 && e.ID <= want[len(want)-1] {
			t.Errorf("id %s after %s does not sort later", e.ID, want[len(want)-1])
		}
		want = append(want, e.ID)
	}
	if got := ids(s.Pending()); !slices.Equal(got, want) {
		t.Errorf("Pending = %v, want %v", got, want)
	}
	if got := ids(reopen(t, s, clk).Pending()); !slices.Equal(got, want) {
		t.Errorf("reopened Pending = %v, want %v", got, want)
	}
}

// encoding/json would compact the body and escape <, > and &; the spool must not.
func TestSpoolKeepsBodyBytes(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, nil)
	body := "{\"quality\": {\"deviceName\": \"Room <A> & B\",\n  \"loss\": 1.50, \"u\": \"\\u00e9\"}}"
	e := mustPut(t, s, "\n"+body+"\n")
	if string(e.Body) != body {
		t.Errorf("Put body = %q, want %q (trimmed only)", e.Body, body)
	}
	file, err := os.ReadFile(filepath.Join(dir, dirPending, e.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(file, []byte(`"body":`+body)) {
		t.Errorf("file does not hold the body as raw JSON:\n%s", file)
	}
	got := reopen(t, s, nil).Pending()
	if len(got) != 1 || string(got[0].Body) != body {
		t.Errorf("reopened body = %q, want %q", got[0].Body, body)
	}
}

func TestSpoolPutRejectsInvalidJSON(t *testing.T) {
	s := openTestSpool(t, t.TempDir(), nil)
	for _, body := range []string{"", "   ", `{"quality":`, "not json"} {
		if _, err := s.Put([]byte(body)); err == nil {
			t.Errorf("Put(%q) succeeded", body)
		}
	}
	if n := len(s.Pending()); n != 0 {
		t.Errorf("%d entries after rejected puts", n)
	}
}

func TestSpoolQuarantinesCorruptFiles(t *testing.T) {
	flipBit := func(t *testing.T, path string, data []byte) {
		// Flip the lowest bit of the '7' in the body: '7' becomes '6', still valid JSON, so only
		// the checksum can notice.
		i := bytes.LastIndex(data, []byte("7"))
		data[i] ^= 0x01
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, data []byte)
	}{
		{"truncated", func(t *testing.T, path string, data []byte) {
			if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"zero length", func(t *testing.T, path string, _ []byte) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"bit flipped in body", flipBit},
		{"id differs from file name", func(t *testing.T, path string, data []byte) {
			other := filepath.Join(filepath.Dir(path), "20250101T000000.000000000Z-00000000.json")
			if err := os.Rename(path, other); err != nil {
				t.Fatal(err)
			}
		}},
		{"stray file", func(t *testing.T, path string, _ []byte) {
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "notes.txt"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestSpool(t, dir, nil)
			before := mustPut(t, s, `{"quality":{"n":1}}`)
			victim := mustPut(t, s, `{"quality":{"n":7}}`)
			after := mustPut(t, s, `{"quality":{"n":3}}`)
			path := filepath.Join(dir, dirPending, victim.ID+".json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path, data)

			log, logs := observed()
			s.Close()
			s2, err := OpenSpool(dir, log)
			if err != nil {
				t.Fatalf("OpenSpool with a corrupt file: %v", err)
			}
			defer s2.Close()
			if got := ids(s2.Pending()); !slices.Equal(got, []string{before.ID, after.ID}) {
				t.Errorf("Pending = %v, want the two good entries", got)
			}
			if got := dirNames(t, filepath.Join(dir, dirPending)); len(got) != 2 {
				t.Errorf("pending/ holds %v, want only the two good files", got)
			}
			if got := dirNames(t, filepath.Join(dir, dirCorrupt)); len(got) != 1 {
				t.Errorf("corrupt/ holds %v, want one file", got)
			}
			if n := s2.corrupt.Load(); n != 1 {
				t.Errorf("corrupt count = %d, want 1", n)
			}
			warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
			if len(warns) != 1 || warns[0].ContextMap()["file"] == "" {
				t.Errorf("want one WARN line naming the file, got %v", warns)
			}
		})
	}
}

func TestSpoolRemovesLeftoverTmp(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, nil)
	kept := mustPut(t, s, `{"quality":{}}`)
	for _, name := range []string{"a.json.123.tmp", "b.json.456.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, dirTmp, name), []byte(`{"half`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := reopen(t, s, nil)
	if left := dirNames(t, filepath.Join(dir, dirTmp)); len(left) != 0 {
		t.Errorf("tmp/ still holds %v", left)
	}
	if got := ids(s2.Pending()); !slices.Equal(got, []string{kept.ID}) {
		t.Errorf("Pending = %v, want [%s]", got, kept.ID)
	}
}

func TestSpoolRejectsForeignIDs(t *testing.T) {
	s := openTestSpool(t, t.TempDir(), nil)
	for _, id := range []string{"", "../../etc/passwd", "x"} {
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%q) succeeded", id)
		}
		if err := s.Update(Entry{ID: id}); err == nil {
			t.Errorf("Update(%q) succeeded", id)
		}
	}
}
