package delivery

// Panics in delivery: no goroutine of this package may take the hub down
// (docs/architecture.md). Each one it starts, and each SMTP delivery,
// recovers a panic, logs it with its stack, and turns it into a retry of
// the recipients it was delivering (4.3.0, a local error), so that the
// message waits and every other message goes on.

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// panicError logs the panic v, recovered in where, with its stack, and
// returns the error that the results of the interrupted work carry.
func panicError(log *slog.Logger, where string, v any) error {
	if log == nil {
		log = slog.Default()
	}
	log.Error("panic recovered in delivery", "where", where, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return fmt.Errorf("internal error while %s: panic: %v (the stack is in the hub's log)", where, v)
}

// safely runs f, recovering and logging a panic: for the goroutines of
// this package whose work has no result to carry it (closing connections).
func safely(log *slog.Logger, where string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			panicError(log, where, v)
		}
	}()
	f()
}
