package cacheops

// Version is this release of cacheops (see CHANGELOG.md). Entries written
// by one release are read by the next: the payload formats and key layout
// change only with a new major version or a new key prefix.
const Version = "0.1.0"
