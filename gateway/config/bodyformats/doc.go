// Package bodyformats is the body_formats block of the YAML schema (form,
// multipart and XML bodies of the routes that opt in), as plain data with
// its validation; the config package references it from its Policies. It
// does not convert bodies (transcode/bodyformat does) or decide routes.
package bodyformats
