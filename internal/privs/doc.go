// Package privs tells whether the process may administer the network:
// root, or the CAP_NET_ADMIN capability in its effective set.
package privs
