package queue

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Many goroutines add, update, read, list and remove at once; run with -race.
// Updates of one shared message must be serialized: no increment is lost.
func TestConcurrent(t *testing.T) {
	s, _ := openT(t, "")
	shared := addT(t, s, "shared")
	const workers, adds, updates = 8, 6, 3

	var wg sync.WaitGroup
	errs := make(chan error, workers*adds*(updates+3))
	for w := range workers {
		wg.Go(func() {
			for i := range adds {
				body := fmt.Sprintf("worker %d message %d", w, i)
				m, err := s.Add(testEnvelope(), strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				for range updates {
					if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts++; return nil }); err != nil {
						errs <- err
					}
				}
				if err := s.Update(shared.ID, func(m *Message) error { m.Recipients[1].Attempts++; return nil }); err != nil {
					errs <- err
				}
				if got, err := s.Get(m.ID); err != nil || got.Recipients[0].Attempts != updates {
					errs <- fmt.Errorf("Get(%s) = %+v, %v", m.ID, got, err)
				}
				if _, err := s.List(); err != nil {
					errs <- err
				}
				if i%2 == 1 {
					if err := s.Remove(m.ID); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	kept := workers*adds/2 + 1
	if len(list) != kept {
		t.Errorf("List has %d messages, want %d", len(list), kept)
	}
	got, err := s.Get(shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Recipients[1].Attempts != workers*adds {
		t.Errorf("shared message: %d updates seen, want %d (updates lost)", got.Recipients[1].Attempts, workers*adds)
	}
	_, rec := reopen(t, s)
	if rec.Resumed != kept || len(rec.RemovedPartial)+len(rec.Quarantined) != 0 {
		t.Errorf("Recovery = %+v", rec)
	}
}
