package router

// maxEventString bounds strings taken from a message (type, msg_id,
// channel) that are copied into events, so a peer cannot bloat the event
// log with one huge field. Envelope validation normally bounds them long
// before; the router does not rely on it.
const maxEventString = 128
