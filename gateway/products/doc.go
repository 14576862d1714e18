// Package products splits a gateway's routes into products: groups of
// upstreams whose routes are matched in a table of their own, selected by
// a listener of the product's or by the request's Host. It owns which
// product a request is for, the product tables (swapped atomically beside
// the main table) and the product listeners' addresses; it does not build
// routes or decide which of two colliding routes wins.
package products
