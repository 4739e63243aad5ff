// Package queue is the durable message queue of a hub: every accepted
// message is a content file and a metadata record (envelope and
// per-recipient delivery state) on local disk. It has no network code; the
// SMTP receiver adds messages, the delivery scheduler lists, updates and
// removes them, and Schedule computes retry times (exchange-semantics.md
// section 5.3).
//
// # Layout
//
//	DIR/lock              locked (flock) while a Store is open
//	DIR/msg/ID            message content, the bytes given to Add
//	DIR/meta/ID.json      metadata record (format below)
//	DIR/quarantine/       records that did not parse, with their content
//	DIR/msg/tmp-*         files being written (also in meta/)
//
// IDs are sortable, unique and safe as file names: 16 hex digits of the
// Unix time in nanoseconds, "-", 12 random hex digits.
//
// # Durability contract
//
// When Add returns nil the message is on stable storage, in this order: the
// content is written to a temp file and fsynced, renamed into msg/, and msg/
// is fsynced; then the metadata record is written to a temp file, fsynced,
// renamed into meta/, and meta/ is fsynced. Any failure of a write, fsync or
// rename returns an error wrapping ErrStorage after removing what was
// written. Update rewrites a record the same way (temp, fsync, rename,
// folder fsync), so a record is always the old one or the new one. Remove
// deletes the record first, then the content.
//
// A crash may duplicate a message (the client never saw the reply and sends
// it again, or a delivery done before the crash is repeated), never lose
// one. A message is valid only when its metadata record exists and parses;
// Open recovers from a crash before anything else runs:
//   - temp files are removed;
//   - content without a metadata record is a partial Add and is removed;
//   - a record that does not parse, or whose content is missing or has a
//     different size, is moved with its content to quarantine/ and reported
//     in Recovery, never guessed at;
//   - everything else is resumed as it was.
//
// # Metadata format
//
// One JSON object per message:
//
//	{"format": 1,
//	"message": {...the Message...},
//	"end": "crc32c:1a2b3c4d"}
//
// "end" is the end record (Postfix's END record): the CRC-32C of the exact
// bytes of the "message" value. A record with no end, a wrong checksum, an
// unknown format or an ID that is not its file name is not valid.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines. Updates and
// Removes of one ID are serialized; different IDs proceed in parallel.
// Readers (Get, List, Open) never block and see each record either before
// or after a concurrent Update. Only one Store (one process) may have a
// folder open at a time: Open locks DIR/lock and fails with ErrLocked
// otherwise.
package queue
