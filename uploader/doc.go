// Package uploader is the last stage of the flow: it keeps each finished call record in a
// durable on-disk spool and delivers it to Microsoft Graph (or an outbox folder), deleting a
// record only after the sink has accepted it.
//
// A record moves through the spool directory like this:
//
//	tmp/        half-written files; removed when the spool is opened
//	pending/    one <id>.json per record waiting for delivery (or for its next attempt)
//	deadletter/ records Graph rejected for good (400 403 404 413 415 422), kept for an operator
//	corrupt/    files that failed their checksum or did not parse, kept for an operator
//
// Nothing is deleted except a record the sink accepted; shutdown never drains or drops.
package uploader
