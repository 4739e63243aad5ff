// Package powercut finds the fsyncs that code writing files forgets: it
// records every operation the code makes through a durable.FS (mkdir,
// create, write, fsync, rename, remove, fsync of a folder, and syncfs of
// the whole file system where the code asks for one), and for every
// prefix of the recorded operations builds the states a power cut could
// leave on disk, writes each to a folder, and hands it to a check (recover,
// then look for what was promised). This is the method of ALICE (Pillai et
// al., "All File Systems Are Not Created Equal", OSDI 2014) and
// CrashMonkey (Mohan et al., "Finding Crash-Consistency Bugs with Bounded
// Black-Box Crash Testing", OSDI 2018), with the weakest model POSIX
// allows:
//
//   - the data of a file is durable up to its last fsync; what was
//     written after may be lost, torn (partly written), or read as zeros
//     (the size written, the blocks not: ext4's writeback mode);
//   - a name in a folder (a create, mkdir, rename or remove) is durable
//     once the folder is fsynced; before that it may be lost, each folder
//     independently of the others; a file's fsync does not make its name
//     durable, nor does a folder's fsync make its parent's entry durable;
//   - a syncfs makes every file's data and every folder's names durable.
//
// For each prefix the states tried are the worst cases of that model:
// every unsynced name and byte lost; every name kept but unsynced data
// lost; every name kept and unsynced data torn; every name kept and
// unsynced data zeros; and for each folder with
// unsynced names, that folder's changes alone lost (the others kept) and
// that folder's changes alone kept (the others lost). Identical states
// are checked once.
//
// The recorder passes every operation through to a real folder, so the
// code under test reads what it wrote, but it makes no real fsync: a test
// needs the model, not the disk.
package powercut
