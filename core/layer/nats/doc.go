// Package nats is the channel layer on NATS core: low latency and no
// storage. Each hub process owns a subject for its process-local channels,
// each fixed-name channel and each group has a subject, and messages fan out
// inside the process to bounded local queues.
//
// Subjects, under Prefix (default "hub"), with '.' in names written as '~'
// so one name is one subject token:
//
//	<prefix>.proc.<process>   requests for one process: deliver a message to
//	                          one of its "specific.<process>!…" channels, or
//	                          add/discard such a channel in a group
//	<prefix>.chan.<channel>   a fixed-name channel; its receivers form a NATS
//	                          queue group, so one process takes each message
//	<prefix>.group.<group>    a group; every process with a member subscribes,
//	                          so GroupSend is one publish
//	<prefix>.flush            Flush, to every process
//
// Send is a request: the receiving process answers whether its queue took
// the message, so ErrChannelFull reaches the sender across processes, and a
// channel nobody receives on fails with ErrNoReceiver. GroupSend is a plain
// publish; full members are skipped and counted by the receiving process.
//
// What NATS core does not give, compared with Redis: messages for a channel
// nobody receives on yet are not kept (a fixed-name channel exists from its
// first Receive in some process), capacity is per receiving process, expiry
// counts from arrival in that process, and a process that dies loses what it
// buffered. Delivery is at-most-once, as for every layer.
package nats
