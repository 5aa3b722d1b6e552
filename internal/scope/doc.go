// Package scope decides which ZeroTier Central calls a proxy lease may
// make. ZeroTier has no scoped credentials, so a purpose with delivery
// "proxy" lists what its holders may do and the broker enforces it on
// every call before forwarding with its own credential.
//
// Deny by default, in this order, each step refusing what it does not
// recognise rather than repairing it:
//
//  1. The request target must already be canonical: lowercase segments of
//     [a-z0-9-], no empty, "." or ".." segment, no percent-encoding,
//     backslash or fragment, and a query of unique, plainly spelled keys.
//     A request that would need normalising is refused (400), so the
//     broker and Central can never disagree about which path was meant.
//     Method-override headers are refused too.
//  2. A hard deny list, independent of any rule, refuses everything that
//     can create a credential or an identity or grant access: service
//     accounts and API keys, Legacy users and their tokens, organisation
//     members and invitations, IAM and network user permissions.
//  3. The path must be one of a fixed catalogue of network and member
//     operations of the purpose's API (v1 for Legacy, v2 for New Central),
//     with typed parameters: a network id is 16 lowercase hex digits, a
//     member id 10. Anything else is not forwarded.
//  4. The body is parsed strictly (UTF-8, no duplicate keys, no trailing
//     data, the shape the operation takes) and what is forwarded is the
//     re-encoding of exactly what was checked.
//  5. The allowlists (networks, members) must hold every id the call
//     names, in the path or in a bulk body.
//  6. A rule must name the operation, allow every query parameter sent,
//     and its CEL condition (over method, operation, path, query, body,
//     fields, lease and labels), if any, must be true.
//
// Rules are compiled and type-checked when the configuration loads, like
// admission rules (package policy). The upstream URL is built from the
// matched operation's template and the checked parameters, never from the
// raw request. Collections (list networks, list members) are filtered to
// the allowlists before the caller sees them.
package scope
