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
//
// # Embedding knocks
//
// Programs that knock before they connect (an ssh client, a deploy
// tool) use this package with a profile from the client's store or from
// a provisioning URI:
//
//   - a profile: [profile.DefaultPath] and [profile.Load], then
//     [profile.Store.Lookup] by name or host; or [provision.ParseURI]
//     and profile.Profile{Name: name, Account: account};
//   - a knock: a [Client] with Clock set to [clock.System] and Gap to
//     [sender.DefaultGap] (its other zero fields take the kernel's
//     sockets, a TCP dial, the system resolver and routes), and State
//     set to a [profile.LoadState] of [profile.StatePath] so steps are
//     used once, as the otpknock command uses them; [Client.Plan] with
//     [Options].Wait set to [DefaultService] and a Timeout; then
//     [Client.Knock] with the number of retries;
//   - the result: [sender.Opened] (its Conn is the connection that
//     answered, to use or close), or an error wrapping
//     [sender.ErrStillClosed] when the service stayed closed.
//
// Stable, kept compatible within a major version: the names just
// listed, Client's fields Clock, Writer, Prober, Resolver, Route,
// State, Finder, NoRaw, Gap, Status and Verbose, Options' fields Host,
// Family, PublicIP, Wait, Timeout, DryRun, NoSource and NAT, the
// [Family] constants, and Plan's fields Profile, Host, Addrs, Request
// and Wait. Other fields and names serve the otpknock commands and may
// change. The Example runs a knock against the fakes of
// sender/sendertest, which is also how a program tests its own use.
package client
