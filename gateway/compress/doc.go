// Package compress is HTTP content coding for the HTTP+JSON side of the
// public listener: request bodies sent with Content-Encoding gzip or zstd
// are decoded as they are read (so every body limit counts decoded bytes,
// and a decompression bomb is cut off at the limit), and responses are
// compressed with zstd, br or gzip as the client's Accept-Encoding allows,
// above a size threshold, flushing through per streamed message.
//
// It knows nothing of routes or gRPC: the RPC protocols negotiate their own
// compression.
package compress
