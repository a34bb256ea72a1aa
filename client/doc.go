// Package client is the one knock path of every client command (send,
// connect, tui): from a profile to the address to knock (the resolver's
// first, or the family asked for), the bound source or, for packet
// knocks, the claim of addresses to open (behind NAT, the public address
// a [Finder] learns, else the packet's source: Source), then the knock
// itself through a [sender.Knocker], the wait for the service and the
// record of the used step.
//
// [Client.Plan] resolves a profile into a [Plan] without sending
// anything (dry runs and show print it); [Client.Knock] carries it out.
package client
