// Package wirejson is refract's descriptor-compiled codec between proto3
// JSON and protobuf wire bytes.
package wirejson
