// Package sweeper finishes mints that a crash interrupted.
//
// The broker writes a pending lease before it asks ZeroTier for a token,
// and names the token after the lease. If the process dies between the
// mint and the activation, the lease stays pending while a token may exist
// upstream that nobody will ever revoke. The Sweeper claims pending leases
// older than PendingTimeout, lists the lease's upstream account, deletes
// every token bearing the lease's name, and only then marks the lease
// failed with reason lease.ReasonCrashed. When the list or a delete fails
// the lease stays pending; its claim runs out and a later pass tries again.
//
// PendingTimeout must comfortably exceed the broker's whole mint timeout:
// a mint still in flight when its lease is swept would hand its caller a
// token that is already deleted. Should that happen anyway, the lease has
// activated, FailPending reports a conflict, and the sweeper moves the
// lease to revoking so that it ends honestly instead of looking active.
package sweeper
