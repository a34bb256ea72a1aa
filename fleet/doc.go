// Package fleet lets otpknock servers share users, used steps, grants and
// an audit trail through a store, NATS JetStream in production
// (docs/guide.md, "Fleets"; docs/spec.md section 14).
//
// The design, in the order a knock meets it:
//
//   - Users. A fleet user is enrolled once with an enrollment secret that
//     no server holds. For each member the administrator derives the
//     member key of the member's identity (derive.MemberKey) and seals
//     it, with the user's services and options, to the member's X25519
//     key from the administrator's (NaCl box, [Seal]). The store's users
//     bucket holds one sealed [Record] per (user, member); a member
//     watches it, opens its own records ([Open]) and applies additions
//     and removals at once, without a reload. So neither a member's disk
//     nor a snapshot of the store knocks another server. Every record
//     carries the administrator's generation; a removal is a tombstone
//     of a newer one, and a member refuses a record older than the
//     newest it accepted for the user (kept in its local copy), so a
//     record put back into the store does not re-enroll a removed user.
//   - Members register themselves ([MemberInfo]: name, identity, box
//     public key), so the administrator's tool knows whom to seal for.
//   - Used steps. Members of a pool (one identity behind one address)
//     claim each (user, step) in a bucket with create-if-absent and an
//     expiry ([Store.UseStep]): the first member to grant a step wins,
//     and the same packet sent to another member is a replay.
//   - Grants. A member that grants publishes the [Grant] on its pool's
//     subject; the others apply it through their firewall, so a knock
//     accepted by any member opens the service on all of them.
//   - Audit. Every grant and refusal is one [Event], written as a JSON
//     line locally and published on the fleet's audit subject.
//
// When the store is unreachable a [Member] keeps its last copy of the
// users (a local cache file) and, with [Local] (the default), grants
// alone: pool fan-out and pool-wide replay refusal are down and it says
// so. With [Refuse] it refuses knocks instead.
//
// [Store] is the boundary: [JetStream] is the real one, fleettest.Memory
// the fake for tests.
package fleet
