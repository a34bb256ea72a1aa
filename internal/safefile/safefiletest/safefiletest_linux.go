package safefiletest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// mask is the directory entry changes a Watcher records.
const mask = unix.IN_CREATE | unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE

// names renders the recorded event kinds.
var names = []struct {
	bit  uint32
	name string
}{
	{unix.IN_CREATE, "create"}, {unix.IN_ATTRIB, "attrib"}, {unix.IN_MODIFY, "modify"},
	{unix.IN_CLOSE_WRITE, "close"}, {unix.IN_MOVED_FROM, "moved-from"},
	{unix.IN_MOVED_TO, "moved-to"}, {unix.IN_DELETE, "delete"},
}

// Event is one change to an entry of the watched directory.
type Event struct {
	Op   string // create, attrib, modify, close, moved-from, moved-to, delete
	Name string // the entry's name in the directory
}

// String renders the event as "op name".
func (e Event) String() string { return e.Op + " " + e.Name }

// Watcher records the changes to the entries of one directory.
type Watcher struct {
	fd int
}

// Watch starts recording changes in dir; t.Cleanup stops it.
func Watch(t testing.TB, dir string) *Watcher {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		t.Fatalf("watching %s: %v", dir, err)
	}
	return &Watcher{fd: fd}
}

// Events returns the changes recorded since the last call, in order.
func (w *Watcher) Events(t testing.TB) []Event {
	t.Helper()
	var out []Event
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return out
		}
		if err != nil {
			t.Fatalf("reading inotify events: %v", err)
		}
		out = append(out, parse(buf[:n])...)
	}
}

// parse decodes a buffer of struct inotify_event records.
func parse(b []byte) []Event {
	var out []Event
	for len(b) >= unix.SizeofInotifyEvent {
		m := binary.NativeEndian.Uint32(b[4:8])
		l := int(binary.NativeEndian.Uint32(b[12:16]))
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+l], "\x00"))
		b = b[unix.SizeofInotifyEvent+l:]
		for _, n := range names {
			if m&n.bit != 0 {
				out = append(out, Event{Op: n.name, Name: name})
			}
		}
	}
	return out
}

// After returns the events that follow the last one with op on name, and
// an error if there is none.
func After(events []Event, op, name string) ([]Event, error) {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Op == op && events[i].Name == name {
			return events[i+1:], nil
		}
	}
	return nil, fmt.Errorf("no %s %s among %v", op, name, events)
}
