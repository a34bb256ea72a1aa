// Package publicaddrtest is a STUN server for tests of public-address
// discovery: a [Responder] answers binding requests on a socket the test
// opens (on 127.0.0.1, or in a network namespace), and keeps the list
// of the requests it answered.
package publicaddrtest
