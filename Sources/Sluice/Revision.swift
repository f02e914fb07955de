// Replaced by the release build with the commit it was built from; "unknown" otherwise.
let buildRevision = "unknown"
