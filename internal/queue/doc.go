// Package queue is the durable message queue of a hub: every accepted
// message is one queue file on local disk holding its content and its
// metadata record (envelope and per-recipient delivery state), plus a
// rewritten record once its state changes. It has no network code; the
// SMTP receiver adds messages, the delivery scheduler lists, updates and
// removes them, and Schedule computes retry times (exchange-semantics.md
// section 5.3).
//
// # Layout
//
//	DIR/lock              locked (flock) while a Store is open
//	DIR/msg/ID            queue file: content, first record, trailer line,
//	                      then records appended by Update and Put
//	DIR/meta/ID.json      the record, once the queue file's records fill
//	                      their room (and as earlier versions wrote it)
//	DIR/quarantine/       messages whose record is not valid
//	DIR/msg/tmp-*         files being written (also in meta/)
//	DIR/msg/free-ID       removed queue files kept for reuse (reuse.go)
//	DIR/inflight/N        the message worker N is processing (inflight.go)
//	DIR/clean-stop        left by CloseClean, taken by the next Open
//
// The queue file is the message: it exists from the moment Add commits
// until Remove. What is written in it is never changed: the content
// (exactly Size bytes, so it is read without parsing anything), then the
// record as Add wrote it, then a trailer line of fixed length giving the
// record's length ("waypost-queue-record 0000000517"), as Postfix keeps
// envelope records and content in one queue file. A change of the record
// is appended: the new record, then a trailer line of the other kind
// ("waypost-queue-update 0000000498"), and the last whole record is the
// message's ("Appended records" below). Once the file's records would
// take more than 8 KiB, the record goes to meta/ID.json, which then
// supersedes the queue file's records. A queue file with no trailer is
// all content and has its record in meta/ (the layout of earlier
// versions, still read).
//
// IDs are sortable, unique and safe as file names: 16 hex digits of the
// Unix time in nanoseconds, "-", 12 random hex digits.
//
// # Durability contract
//
// When Add returns nil the message is on stable storage, in this order:
// the queue file is written to a temp file and flushed with fdatasync(2)
// (its data and size; fsync where there is no fdatasync), renamed into
// msg/, and msg/ is fsynced. The folder fsync is a group commit
// (dirsync.go): Adds that rename their files while an fsync of msg/ runs
// share the next one, and each Add returns only after an fsync of msg/
// that started after its own rename has ended, with that fsync's error,
// so a failed shared fsync fails every Add it was to cover (each removes
// its file) and no other. One new file (or a removed one written over:
// "Reuse" below) and one name per message, and one folder fsync per group
// of messages that finish together (or two shared syncfs calls: "Syncing"
// below). Any failure of a write, fsync or rename returns an error
// wrapping ErrStorage after removing what was written.
// Update and Put append the record to the queue file and fdatasync it,
// or, once its records fill their room, write it to meta/ the way Add
// writes (temp, fsync, rename, folder fsync), so a record is always the
// old one or the new one; Put writes it from memory, reading nothing (the
// scheduler keeps every record in memory from the one reading at Open:
// Options.Scan).
// Remove deletes the queue file first (or keeps it for reuse, below),
// then the record.
//
// A crash may duplicate a message (the client never saw the reply and sends
// it again, or a delivery done before the crash is repeated), never lose
// one. A message is valid only when its queue file exists and its record
// parses; Open recovers from a crash before anything else runs:
//   - temp files are removed;
//   - a record in meta/ without a queue file is a partial Remove and is
//     removed;
//   - a queue file whose record does not parse, or holds a different
//     amount of content than its record says, is moved with its meta/
//     record to quarantine/ and reported in Recovery, never guessed at;
//   - everything else is resumed as it was.
//
// # Syncing
//
// With Options.Sync SyncFileSystem (queue_sync "filesystem" in the
// configuration, and "auto" where syncfs(2) reports write errors) both
// flushes of Add are rounds of the group commit done with syncfs of the
// whole file system instead: an Add writes its temp file, waits for a
// round that started after it (its data), renames it, and waits for the
// next (its name), in the same order as above, so a name in msg/ always
// has its whole file behind it. Adds one step apart share calls: one round
// makes the data of some durable and the names of others. The kernel
// reports a write error to the first syncfs after it on each descriptor
// open before the error (errseq), so each folder keeps one descriptor for
// its rounds, and a round that fails fails every Add that was writing
// while it ran, even if that Add's own round succeeds (dirSync.syncSince);
// a removal made while it ran is not taken as durable either (the reuse
// pool unlinks that file). An appended record waits for a round of msg/
// too, instead of its fdatasync: the deferrals of a busy queue share them.
//
// # Removal
//
// Removing a message fsyncs nothing. A removal that a crash (power cut,
// kernel panic) undoes brings back the queue file with its meta/ record,
// or with its own first record if only the meta/ removal reached the
// disk: recipients already done are then attempted again and reports may
// be sent again. That is a duplicate, which the contract allows (a crash
// may duplicate, never lose), and it can only follow a crash of the
// machine, not of the process: the kernel has the removal as soon as
// unlink returns. The reports a finished message needs are queued (and
// durable) before it is removed, so nothing is lost with the removal
// either, and the space of a removed file is free at once, fsync or not.
// An fsync of msg/ per delivered message would cost an open, an fsync
// and a close each time, and the folder fsyncs of the Adds would queue
// behind it.
//
// # Reuse
//
// RemoveMessage and Finish do not unlink a small queue file (up to 60 KiB
// of content; at most 256 kept): they rename it to msg/free-ID, and a
// later Add writes its message over that file (from its start, then cut
// to its new size, fdatasync, rename to the new ID, folder fsync) instead
// of creating a new one. On ext4, creating an inode and allocating its
// blocks, then freeing them and discarding them at the unlink, were the
// dearest steps of a message (docs/performance.md). The crash rules:
//   - A kept file is written over only after an fsync of msg/ that began
//     after its rename to free-ID has ended without error (the Adds'
//     group commit makes those fsyncs; dirsync.go numbers them). Before
//     that, a power cut could bring the file back as msg/ID, the message
//     it was, holding the new message's content: a duplicate delivered
//     with another message's content. After it, the old name is gone
//     for good and a power cut leaves the file under free-ID (or, once
//     renamed, under the new ID with its content flushed before).
//   - A kept file whose covering fsync failed is unlinked, never reused:
//     after a failed fsync the kernel may have dropped the rename.
//   - Every rename stays within msg/ (one folder, whose fsync covers both
//     names), and the new content is flushed with its size before the
//     file takes its new name, so no name of msg/ ever shows a mix of
//     old and new content.
//   - Open unlinks every free-* file: a file kept by the last run may
//     have been half written over when it stopped.
//
// The power-cut replay TestQueueReusePowerCut (internal/powercut) checks
// every state a power cut can leave of removals and reuses. When a write
// of the queue fails for want of space (ENOSPC, EDQUOT) the kept files
// are unlinked and, until a write succeeds again, every removal unlinks,
// so that each delivery frees its space at once; Remove by ID alone (an
// administrator's removal) unlinks as before.
//
// # Appended records
//
// An append is one write of the record and its trailer at the end of the
// queue file, then fdatasync (the data and the new size); no name
// changes, so no folder is fsynced. A crash during it leaves the file
// ending in part of the new chunk, or in zeros (its size written, its
// blocks not): the reader finds the old record by searching back from
// the end for the last trailer line whose record is valid (its CRC-32C
// end record, its ID). A failed write or fsync cuts the file back to its
// old size before the error returns, so the old record is the last one
// for readers too; a reader that meets an append being made finds the old
// record the same way. A record before the trailer of the first kind is
// checked against the content exactly (the content is everything before
// it); an appended one only says how much content comes first.
//
// Appending saves the record file a deferred message had in meta/: its
// creation, fsync, rename and folder fsync at every change, and a second
// unlink when the message leaves the queue (docs/performance.md). A
// message whose record changes more than the room allows (about seven
// times with a few recipients; at once with hundreds, whose record alone
// is larger) goes on in meta/ as before, and the file stays within its
// content and 8 KiB.
//
// An earlier version of Waypost does not know the second trailer: given a
// queue folder this version wrote, it quarantines the messages that were
// changed since they were queued. Downgrades are not supported.
//
// # Record format
//
// One JSON object per record, in meta/ID.json or before each of the queue
// file's trailers:
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
